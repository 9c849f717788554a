//! The RFC 7217 secret key and its file.
//!
//! The only file I/O in `addr`: RFC 7217 section 5 wants the key created once,
//! when the stack first starts, and kept, or stable addresses would change on
//! every restart. The generator itself stays pure.

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ring::rand::{SecureRandom, SystemRandom};

/// Bytes in a key. RFC 7217 section 5 asks for at least 128 bits; 256 match
/// the HMAC-SHA-256 block and leave no margin question.
pub const SECRET_KEY_LEN: usize = 32;

/// A key file is the hex key, a newline and perhaps some stray whitespace
/// from an administrator's editor; anything longer is not ours.
const MAX_FILE_LEN: u64 = 128;

/// The secret_key of RFC 7217. Debug never shows it: it is the only thing
/// standing between an observer and every stable address the host will use.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; SECRET_KEY_LEN]);

impl SecretKey {
    /// A fresh key from the operating system's CSPRNG (RFC 7217 section 5
    /// requires a pseudo-random value per RFC 4086).
    pub fn generate() -> io::Result<Self> {
        let mut k = [0u8; SECRET_KEY_LEN];
        SystemRandom::new()
            .fill(&mut k)
            .map_err(|_| io::Error::other("the system random number generator failed"))?;
        Ok(Self(k))
    }

    pub const fn from_bytes(bytes: [u8; SECRET_KEY_LEN]) -> Self {
        Self(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; SECRET_KEY_LEN] {
        &self.0
    }

    /// Lowercase hex, the file format. RFC 7217 section 5 lets an
    /// administrator display and change the key so a replacement host can
    /// keep the old one's addresses.
    pub fn to_hex(&self) -> String {
        use std::fmt::Write as _;
        self.0.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    /// Parses exactly 64 hex digits, surrounding whitespace allowed.
    pub fn from_hex(s: &str) -> Option<Self> {
        let s = s.trim().as_bytes();
        if s.len() != 2 * SECRET_KEY_LEN {
            return None;
        }
        let mut k = [0u8; SECRET_KEY_LEN];
        for (out, pair) in k.iter_mut().zip(s.chunks_exact(2)) {
            *out = (hex_val(pair[0])? << 4) | hex_val(pair[1])?;
        }
        Some(Self(k))
    }

    /// Reads the key at `path`, or creates one there if no file exists.
    ///
    /// Creation writes a temporary file with mode 0600 in the same directory,
    /// syncs it and then links it into place, so a crash never leaves a
    /// half-written key and two processes starting at once both end up with
    /// the key that won. Missing parent directories are created with mode
    /// 0700. An existing file that does not hold a key is an error, never
    /// replaced: replacing it would silently renumber every stable address.
    pub fn load_or_create(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        match read_key(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            other => return other,
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        }
        let key = Self::generate()?;
        let tmp = temp_path(path)?;
        let written = write_new(&tmp, &key).and_then(|()| publish(&tmp, path));
        // The temporary name is ours alone; remove it whatever happened.
        let _ = fs::remove_file(&tmp);
        match written {
            Ok(()) => {
                sync_parent(path);
                Ok(key)
            }
            // Another process created the key between our read and link.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read_key(path),
            Err(e) => Err(e),
        }
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn read_key(path: &Path) -> io::Result<SecretKey> {
    let mut text = String::new();
    // take() so a wrong path pointing at a huge file cannot exhaust memory.
    File::open(path)?
        .take(MAX_FILE_LEN + 1)
        .read_to_string(&mut text)
        .map_err(|e| invalid(path, &e.to_string()))?;
    if text.len() as u64 > MAX_FILE_LEN {
        return Err(invalid(path, "file too long"));
    }
    SecretKey::from_hex(&text).ok_or_else(|| {
        invalid(
            path,
            &format!(
                "expected {} hex digits, found {} bytes of something else",
                2 * SECRET_KEY_LEN,
                text.len()
            ),
        )
    })
}

fn invalid(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "secret key file {} is not a valid key ({why}); \
             fix or remove it by hand, it is never replaced automatically",
            path.display()
        ),
    )
}

/// `.<name>.<pid>.<n>.tmp` beside `path`: unique among live processes, and
/// hidden so nobody mistakes it for the key.
fn temp_path(path: &Path) -> io::Result<PathBuf> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("secret key path {} names no file", path.display()),
        )
    })?;
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".{}.{n}.tmp", std::process::id()));
    Ok(path.with_file_name(tmp))
}

fn write_new(tmp: &Path, key: &SecretKey) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(tmp)?;
    // The umask can only narrow 0600, but say exactly what we mean.
    f.set_permissions(fs::Permissions::from_mode(0o600))?;
    f.write_all(key.to_hex().as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

/// Moves the finished file into place without ever overwriting: a hard link
/// fails with AlreadyExists if someone got there first, where rename would
/// clobber their key. Falls back to rename on filesystems without hard links.
fn publish(tmp: &Path, path: &Path) -> io::Result<()> {
    match fs::hard_link(tmp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(_) => fs::rename(tmp, path),
    }
}

/// Makes the new directory entry durable. Best effort: the key is already
/// correct on disk, and some filesystems refuse to sync a directory.
fn sync_parent(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            static N: AtomicU64 = AtomicU64::new(0);
            let dir = std::env::temp_dir().join(format!(
                "mip6-addr-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn create_then_reload_same_key() {
        let dir = TempDir::new("reload");
        let path = dir.0.join("sub").join("secret");
        let k1 = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.0.join("sub")), 0o700);
        let k2 = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(k1, k2);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{}\n", k1.to_hex()));
        // Nothing but the key is left in the directory.
        let names: Vec<_> = fs::read_dir(dir.0.join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("secret")]);
    }

    #[test]
    fn corrupt_or_wrong_length_is_an_error_and_untouched() {
        let dir = TempDir::new("corrupt");
        for (i, body) in [
            "not hex at all",
            "abcd\n",
            &"0".repeat(66),
            &format!("{}zz", "0".repeat(62)),
            "",
        ]
        .iter()
        .enumerate()
        {
            let path = dir.0.join(format!("k{i}"));
            fs::write(&path, body).unwrap();
            let err = SecretKey::load_or_create(&path).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{body:?}");
            assert!(err.to_string().contains("never replaced"));
            assert_eq!(fs::read_to_string(&path).unwrap(), *body);
        }
        // A valid key followed by junk is refused, however much junk; a huge
        // file is refused without reading it all.
        let path = dir.0.join("trailing");
        fs::write(
            &path,
            format!("{}\n\n\n{}", "0".repeat(64), "x".repeat(100)),
        )
        .unwrap();
        assert!(SecretKey::load_or_create(&path).is_err());
        let path = dir.0.join("huge");
        fs::write(&path, "0".repeat(1 << 20)).unwrap();
        assert!(SecretKey::load_or_create(&path).is_err());
    }

    #[test]
    fn accepts_an_administrator_written_key() {
        let dir = TempDir::new("admin");
        let path = dir.0.join("secret");
        let hex = "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff";
        fs::write(&path, format!("  {hex}\n")).unwrap();
        let k = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(k.to_hex(), hex.to_lowercase());
    }

    #[test]
    fn directory_is_refused() {
        let err = SecretKey::load_or_create("/").unwrap_err();
        // "/" exists and is a directory: reading it fails, not NotFound.
        assert_ne!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn hex_round_trip_and_generate() {
        let k = SecretKey::generate().unwrap();
        assert_eq!(SecretKey::from_hex(&k.to_hex()), Some(k.clone()));
        assert_ne!(k, SecretKey::generate().unwrap());
        assert_eq!(format!("{k:?}"), "SecretKey(<redacted>)");
        assert!(SecretKey::from_hex(&"g".repeat(64)).is_none());
    }
}
