//! Runtime tests: drbdlinks against real directories, the OCF agent under
//! ocf-tester, the SIP probe against sipp and silent/garbage peers on loopback,
//! and status against recorded fixtures. Network traffic stays on 127.0.0.1/::1.

mod drbdlinks;
mod harness;
mod ocf;
mod peer_ssh;
mod sip;
mod status;
