//! The binding cache on disk: JSON, rewritten whole on every change,
//! atomically (a temporary file in the same directory, fsync, rename, fsync
//! of the directory), so a crash leaves either the old file or the new one.
//! Expiry times are absolute (UNIX seconds), so bindings come back with
//! what remains of their lifetimes. Beside the bindings it keeps every
//! mobile node's last accepted timestamp and sequence number, bound or
//! not, so a BU captured before a restart cannot be replayed after it.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;
use std::time::SystemTime;

use mip6_common::binding::cache::{BindingRecord, ReplayRecord};
use serde::{Deserialize, Serialize};

const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    /// When it was written, UNIX seconds (for people reading it).
    saved_unix: u64,
    bindings: Vec<BindingRecord>,
    /// Absent in files written before it existed.
    #[serde(default)]
    replay: Vec<ReplayRecord>,
}

/// What the file holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Stored {
    pub bindings: Vec<BindingRecord>,
    pub replay: Vec<ReplayRecord>,
}

/// Writes `records` and `replay` to `path` atomically.
pub fn save(path: &Path, records: &[BindingRecord], replay: &[ReplayRecord]) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(d) = dir {
        fs::create_dir_all(d)?;
    }
    let state = StateFile {
        version: VERSION,
        saved_unix: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        bindings: records.to_vec(),
        replay: replay.to_vec(),
    };
    let text = serde_json::to_vec_pretty(&state).map_err(io::Error::other)?;
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(".tmp.{}", std::process::id()));
    let tmp = Path::new(&tmp_name);
    let res = (|| {
        let mut f = File::create(tmp)?;
        f.write_all(&text)?;
        f.sync_all()?;
        fs::rename(tmp, path)?;
        if let Some(d) = dir {
            File::open(d)?.sync_all()?;
        }
        Ok(())
    })();
    if res.is_err() {
        let _ = fs::remove_file(tmp);
    }
    res.map_err(|e: io::Error| io::Error::new(e.kind(), format!("write {}: {e}", path.display())))
}

/// Reads the records back; a missing file is an empty cache.
pub fn load(path: &Path) -> io::Result<Stored> {
    let text = match fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Stored::default()),
        Err(e) => {
            return Err(io::Error::new(
                e.kind(),
                format!("read {}: {e}", path.display()),
            ));
        }
    };
    let state: StateFile = serde_json::from_slice(&text).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: not a binding cache file: {e}", path.display()),
        )
    })?;
    if state.version != VERSION {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: version {} unknown", path.display(), state.version),
        ));
    }
    Ok(Stored {
        bindings: state.bindings,
        replay: state.replay,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_and_missing_file() {
        let dir = mip6_common::testing::scratch_dir("ha-persist");
        let path = dir.join("sub/bindings.json");
        assert_eq!(load(&path).unwrap(), Stored::default());
        let r = BindingRecord {
            hoa: "2001:db8:1::100".parse().unwrap(),
            coa: "2001:db8:2::100".parse().unwrap(),
            ha_addr: "2001:db8:1::1".parse().unwrap(),
            sequence: 7,
            flags: 0xc000,
            lifetime_secs: 600,
            expires_unix: 2_000_000_000,
            link_local: None,
            last_mesg_id: Some(42),
            spi: Some(256),
        };
        let replay = ReplayRecord {
            home_address: "2001:db8:1::101".parse().unwrap(),
            last_mesg_id: 43,
            last_sequence: 9,
        };
        save(&path, std::slice::from_ref(&r), &[replay]).unwrap();
        let back = load(&path).unwrap();
        assert_eq!(back.bindings, vec![r]);
        assert_eq!(back.replay, vec![replay]);
        save(&path, &[], &[]).unwrap();
        assert_eq!(load(&path).unwrap(), Stored::default());
        // No temporary file is left.
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
        // A file of the first version (no replay section) still loads.
        fs::write(&path, br#"{"version":1,"saved_unix":0,"bindings":[]}"#).unwrap();
        assert_eq!(load(&path).unwrap(), Stored::default());
        fs::write(&path, b"{").unwrap();
        assert!(load(&path).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
