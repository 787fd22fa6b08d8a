use std::path::Path;
use std::process::ExitCode;

use crate::apply::peer::{Peer, Record, check_same_applied};
use std::time::Duration;

use crate::cli::StatusArgs;
use crate::error::Result;
use crate::exec::LocalRunner;
use crate::runtime::status::{self, Inputs, Sources};
use crate::runtime::verify::{self, SipSettings};

pub fn run(args: &StatusArgs) -> Result<ExitCode> {
    let settings = SipSettings {
        port: args.sip_port,
        transport: args.sip_transport,
        timeout: Duration::from_millis(args.sip_timeout),
        accept: args.sip_accept.clone(),
    };
    let probe = |ip: &str| verify::sip(&settings, ip);
    let inputs = Inputs {
        engine: args.engine,
        sources: Sources {
            proc_drbd: args.proc_drbd.clone(),
            haresources: args.haresources.clone(),
            hostname: args.hostname_file.clone(),
        },
        sip: if args.no_sip { None } else { Some(&probe) },
    };
    let report = status::gather(&LocalRunner, &inputs);
    let profiles = (!args.no_peer)
        .then(|| profiles(&args.hostname_file))
        .flatten();
    if args.json {
        // Strings, numbers and lists only: encoding cannot fail.
        let mut value = serde_json::to_value(&report).expect("the status report serializes");
        if let (Some(p), Some(map)) = (&profiles, value.as_object_mut()) {
            map.insert("profiles".into(), serde_json::Value::String(p.clone()));
        }
        let text = serde_json::to_string_pretty(&value).expect("the status report serializes");
        println!("{text}");
    } else {
        print!("{}", status::render_table(&report));
        if let Some(p) = profiles {
            println!("profiles: {p}");
        }
    }
    Ok(ExitCode::from(report.health.exit_code()))
}

/// Whether both nodes applied the same profile last (a warning line, never a
/// health state: a node may be changed alone on purpose, with --this-node).
/// None on a node that recorded none (pbx-cluster never applied there).
fn profiles(hostname_file: &Path) -> Option<String> {
    let mine = Record::read(Path::new("/")).ok()??;
    // The recorded profile names the other node; loading it reads its secret
    // file, so it is unpacked into a root-only folder first.
    let dir = tempfile::Builder::new()
        .prefix("pbx-cluster-status-")
        .tempdir_in("/run")
        .ok()?;
    let model = crate::profile::load(&mine.current.unpack(dir.path()).ok()?)
        .ok()?
        .model;
    let hostname = std::fs::read_to_string(hostname_file).ok();
    let this = crate::plan::identify(&model, None, hostname.as_deref().map(str::trim), &[]).ok()?;
    let other = model.nodes.iter().find(|n| n.name != this)?;
    let runner = LocalRunner;
    let peer = Peer::new(
        other.name.clone(),
        other.heartbeat.address.to_string(),
        &runner,
    );
    Some(match peer.applied() {
        Ok(theirs) => {
            match check_same_applied((&this, Some(&mine)), (&peer.name, theirs.as_ref()), None) {
                Ok(()) if theirs.is_some() => {
                    format!("{this} and {} applied the same profile last", peer.name)
                }
                Ok(()) => format!("{} recorded no applied profile yet", peer.name),
                Err(_) => format!(
                    "WARNING: {this} and {} applied different profiles last; `pbx-cluster plan {}` shows what differs, and apply refuses until they agree",
                    peer.name,
                    crate::apply::peer::PROFILE_PATH
                ),
            }
        }
        Err(e) => format!("{} not asked: {e}", peer.name),
    })
}
