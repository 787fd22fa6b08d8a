//! The node runtime: the glue a running node needs between the cluster engines and
//! the PBX. These sit beside the profile -> render -> apply pipeline, not in it: they
//! read the node's live state (mounts, sockets, the engines' own tools) and never the
//! profile.
//!
//! - [`addresses`]: waits at boot until this node's own addresses are configured.
//! - [`fence_peer`]: DRBD's fence-peer/unfence handlers under Pacemaker.
//! - [`fence_peer_heartbeat`]: DRBD's fence-peer handler for dual-primary DRBD
//!   under Heartbeat (load-balanced mode).
//! - [`drbdlinks`]: moves configuration and data onto the replicated disk and back,
//!   as the classic drbdlinks tool did (gone from current distributions).
//! - [`sip_probe`]: a SIP OPTIONS health check, for ldirectord and monitoring.
//! - [`status`]: one view of engine, membership, DRBD, services and SIP health.
//! - [`wait`]: bounded polling until a condition holds.

pub mod addresses;
pub mod cib_update;
pub mod drbdlinks;
pub mod fence_peer;
pub mod fence_peer_heartbeat;
pub mod mountinfo;
pub mod sip_probe;
pub mod status;
pub mod verify;
pub mod wait;
