// SPDX-License-Identifier: (MIT OR Apache-2.0) AND GPL-2.0
//
// The kernel fast path of the mip6 IPv6-in-IPv6 tunnel (RFC 2473,
// RFC 6275 10.4.2 / 11.3.1), one object for both tunnel ends.
//
//   mip6_encap (lwt_xmit): runs on the route into the tunnel (home agent:
//     HoA/128 dev <tun>; mobile node: default dev <tun> src HoA). Looks
//     the binding up, pushes the outer header and lets the kernel route
//     the result (BPF_LWT_REROUTE). Whatever it does not handle it leaves
//     alone (BPF_OK): the packet then goes on into the TUN device, where
//     the user-space data plane does the rest (ICMPv6 errors, RFC 2473
//     fragmentation, paths narrower than the tunnel MTU).
//   mip6_decap (tc ingress, tcx): takes IPv6-in-IPv6 packets for this
//     node, checks the outer source against the binding (RFC 6275
//     10.4.5), applies RFC 6040 and strips the outer header; the kernel
//     then forwards or delivers the inner packet. Fragments and anything
//     unusual pass untouched to the kernel and the user-space data plane's
//     protocol-41 socket.
//
// No global data, no bpf-to-bpf calls and no BTF are needed to load it:
// mip6's own loader (common/src/dataplane/ebpf/loader.rs) creates the maps
// described in section "mip6_maps" and patches their descriptors in.

#include <linux/bpf.h>
#include <linux/in6.h>
#include <linux/ipv6.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// Must match common/src/dataplane/ebpf/maps.rs.
struct mip6_map {
	__u32 type;
	__u32 key_size;
	__u32 value_size;
	__u32 max_entries;
};

#define MIP6_MAP(name, t, k, v, n) \
	struct mip6_map name __attribute__((section("mip6_maps"), used)) = { t, k, v, n }

struct addr {
	__u32 w[4];
};

// Home address -> the other tunnel end.
struct binding {
	struct addr remote; // care-of address (HA) or home agent (MN)
	struct addr local;  // home agent address (HA) or care-of address (MN)
	__u32 mtu;          // path MTU towards remote; 0: the route's is enough
	__u32 flags;
};

struct settings {
	__u32 mode;        // 0 home agent, 1 mobile node
	__u32 hop_limit;   // outer hop limit (RFC 2473 6.3)
	__u32 tclass;      // fixed outer traffic class, or ...
	__u32 copy_tclass; // ... 1: copied from the inner packet (RFC 2473 6.5)
};

struct flows {
	__u64 encap_packets;
	__u64 encap_bytes;
	__u64 decap_packets;
	__u64 decap_bytes;
};

// Drop reasons: the order of DropReason in common/src/dataplane/stats.rs.
#define DROP_NO_BINDING 0
#define DROP_SPOOFED 1
#define DROP_MALFORMED 4
#define DROP_ECN 7
// Packets handed to the user-space path, and why (after the drops).
#define SLOW_NO_BINDING 8
#define SLOW_TOO_BIG 9
#define SLOW_ENCAP_FAILED 10
#define SLOW_NOT_FROM_HOA 11
#define NCOUNTERS 16

MIP6_MAP(bindings, BPF_MAP_TYPE_HASH, 16, sizeof(struct binding), 1 << 20);
MIP6_MAP(settings, BPF_MAP_TYPE_ARRAY, 4, sizeof(struct settings), 1);
MIP6_MAP(binding_flows, BPF_MAP_TYPE_PERCPU_HASH, 16, sizeof(struct flows), 1 << 20);
MIP6_MAP(counters, BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, NCOUNTERS);

#define MODE_HA 0
#define MODE_MN 1
#define IPPROTO_IPV6_IN_IPV6 41
#define ECN_MASK 0x3
#define ECN_CE 0x3

static __always_inline void count(__u32 what)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &what);
	if (c)
		*c += 1;
}

static __always_inline int addr_eq(const struct addr *a, const struct in6_addr *b)
{
	const __u32 *w = b->in6_u.u6_addr32;
	return a->w[0] == w[0] && a->w[1] == w[1] && a->w[2] == w[2] && a->w[3] == w[3];
}

static __always_inline __u8 tclass_of(const struct ipv6hdr *ip)
{
	return (ip->priority << 4) | (ip->flow_lbl[0] >> 4);
}

static __always_inline int unicast(const struct in6_addr *a)
{
	__u8 first = a->in6_u.u6_addr8[0];
	// Multicast, and link-local unicast (fe80::/10), stay on their link.
	if (first == 0xff)
		return 0;
	if (first == 0xfe && (a->in6_u.u6_addr8[1] & 0xc0) == 0x80)
		return 0;
	return 1;
}

SEC("lwt_xmit")
int mip6_encap(struct __sk_buff *skb)
{
	struct ipv6hdr inner;
	struct ipv6hdr outer;
	__u32 zero = 0;

	if (skb->protocol != bpf_htons(ETH_P_IPV6))
		return BPF_OK;
	if (bpf_skb_load_bytes(skb, 0, &inner, sizeof(inner)) < 0)
		return BPF_OK;
	struct settings *s = bpf_map_lookup_elem(&settings, &zero);
	if (!s || inner.version != 6 || !unicast(&inner.daddr))
		return BPF_OK;
	// The home agent tunnels by destination, the mobile node by source
	// (RFC 6275 11.3.1: only what leaves from the home address).
	struct addr *key = (struct addr *)(s->mode == MODE_HA ? &inner.daddr : &inner.saddr);
	struct binding *b = bpf_map_lookup_elem(&bindings, key);
	if (!b) {
		count(s->mode == MODE_HA ? SLOW_NO_BINDING : SLOW_NOT_FROM_HOA);
		return BPF_OK;
	}
	__u32 len = skb->len;
	// A path narrower than the tunnel MTU: the user-space path sends the
	// Packet Too Big, or fragments (RFC 2473 7.1).
	if (b->mtu && (skb->gso_segs > 1 || len + sizeof(outer) > b->mtu)) {
		count(SLOW_TOO_BIG);
		return BPF_OK;
	}
	__builtin_memset(&outer, 0, sizeof(outer));
	__u8 tc = s->copy_tclass ? tclass_of(&inner) : (__u8)s->tclass;
	outer.version = 6;
	outer.priority = tc >> 4;
	outer.flow_lbl[0] = (tc & 0xf) << 4;
	outer.payload_len = bpf_htons((__u16)len);
	outer.nexthdr = IPPROTO_IPV6_IN_IPV6;
	outer.hop_limit = (__u8)s->hop_limit;
	__builtin_memcpy(&outer.saddr, &b->local, 16);
	__builtin_memcpy(&outer.daddr, &b->remote, 16);
	if (bpf_lwt_push_encap(skb, BPF_LWT_ENCAP_IP, &outer, sizeof(outer)) < 0) {
		count(SLOW_ENCAP_FAILED);
		return BPF_OK;
	}
	struct flows *f = bpf_map_lookup_elem(&binding_flows, key);
	if (f) {
		f->encap_packets += skb->gso_segs > 1 ? skb->gso_segs : 1;
		f->encap_bytes += len;
	}
	return BPF_LWT_REROUTE;
}

SEC("tc")
int mip6_decap(struct __sk_buff *skb)
{
	__u32 zero = 0;
	const __u32 hdrs = sizeof(struct ethhdr) + 2 * sizeof(struct ipv6hdr);

	if (skb->protocol != bpf_htons(ETH_P_IPV6))
		return TC_ACT_OK;
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	if (data + hdrs > data_end) {
		if (skb->len < hdrs || bpf_skb_pull_data(skb, hdrs) < 0)
			return TC_ACT_OK;
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		if (data + hdrs > data_end)
			return TC_ACT_OK;
	}
	struct ipv6hdr *outer = data + sizeof(struct ethhdr);
	struct ipv6hdr *inner = (void *)(outer + 1);
	// Fragments, extension headers: the kernel reassembles, the user-space
	// path takes them from its socket.
	if (outer->version != 6 || outer->nexthdr != IPPROTO_IPV6_IN_IPV6)
		return TC_ACT_OK;
	struct settings *s = bpf_map_lookup_elem(&settings, &zero);
	if (!s)
		return TC_ACT_OK;
	if (inner->version != 6) {
		count(DROP_MALFORMED);
		return TC_ACT_SHOT;
	}
	// RFC 6275 10.4.5: the home agent takes a tunnel packet only from the
	// care-of address registered for its inner source; the mobile node
	// only from its home agent, for its home address.
	struct addr *key = (struct addr *)(s->mode == MODE_HA ? &inner->saddr : &inner->daddr);
	struct binding *b = bpf_map_lookup_elem(&bindings, key);
	if (!b) {
		// Mobile node: not ours, the kernel decides. Home agent: a mobile
		// node whose binding we lost (a restart without the state file);
		// the user-space path drops it, counts it and has the control
		// plane send a Binding Error so it registers again at once.
		return TC_ACT_OK;
	}
	if (!addr_eq(&b->local, &outer->daddr))
		return TC_ACT_OK; // not addressed to this tunnel end
	if (!addr_eq(&b->remote, &outer->saddr)) {
		count(DROP_SPOOFED);
		return TC_ACT_SHOT;
	}
	// RFC 6040 normal mode: CE outside is copied into an ECN-capable inner
	// packet and drops one that is not.
	if ((tclass_of(outer) & ECN_MASK) == ECN_CE) {
		__u8 in = tclass_of(inner);
		if ((in & ECN_MASK) == 0) {
			count(DROP_ECN);
			return TC_ACT_SHOT;
		}
		inner->flow_lbl[0] |= ECN_CE << 4;
	}
	struct flows *f = bpf_map_lookup_elem(&binding_flows, key);
	__u32 len = skb->len - sizeof(struct ethhdr) - sizeof(struct ipv6hdr);
	__u32 segs = skb->gso_segs > 1 ? skb->gso_segs : 1;
	if (f) {
		f->decap_packets += segs;
		f->decap_bytes += len;
	}
	if (bpf_skb_adjust_room(skb, -(__s32)sizeof(struct ipv6hdr), BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_NO_CSUM_RESET) < 0) {
		// Unchanged: the user-space path gets it through its socket.
		if (f) {
			f->decap_packets -= segs;
			f->decap_bytes -= len;
		}
		return TC_ACT_OK;
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
