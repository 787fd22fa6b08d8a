//! What an image is made of: flags x model -> [`ImageSpec`] (pure).
//!
//! The distro decides the defaults (mirror, suite, components, keyring, kernel,
//! network renderer); flags override them. Ubuntu and Debian go through the same
//! code with other values, so a unit test of the Ubuntu plan covers the Ubuntu path.

use std::path::PathBuf;

use crate::model::{Distro, Filesystem, Model, Node};

/// Image-only settings; they are not part of the profile (the lead owns its schema).
#[derive(Debug, Clone, Default)]
pub struct ImageOptions {
    pub node: String,
    pub mirror: Option<String>,
    pub suite: Option<String>,
    /// Empty: the distro's default components.
    pub components: Vec<String>,
    /// Extra one-line apt sources (`deb URL SUITE COMPONENT...`); `None` keeps the
    /// distro's default extra sources (sid for Asterisk on Debian 12/13).
    pub extra_sources: Option<Vec<String>>,
    /// Packages on top of the computed set.
    pub packages: Vec<String>,
    /// A node meta-package from our repository that replaces the stack list.
    pub meta_package: Option<String>,
    /// A local apt repository (flat, or with dists/) holding pbx-cluster.
    pub repo: Option<PathBuf>,
    /// Fallback when there is no repository yet: a pbx-cluster binary to copy.
    pub binary: Option<PathBuf>,
    /// Test-harness extras: report unit, ssh key, masked timers.
    pub lab: bool,
    pub ssh_key: Option<String>,
    pub disk_size_mib: u64,
    /// Local files copied into the image (vendor tools, e.g. a fence agent).
    pub add_files: Vec<AddedFile>,
    /// A published cloud image (http/https URL) to start from instead of mmdebstrap.
    pub base_image: Option<String>,
    /// Its checksum list [default: SHA512SUMS (Debian) or SHA256SUMS (Ubuntu) beside it].
    pub base_sums: Option<String>,
}

/// A published image the root starts from, and the list that vouches for it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BaseImage {
    pub url: String,
    pub sums_url: String,
}

/// A file from `--add-file SRC:DEST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedFile {
    /// Absolute path inside the image.
    pub dest: String,
    pub bytes: Vec<u8>,
    pub mode: u32,
}

/// How the network of both NICs is configured on the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkRenderer {
    Netplan,
    Networkd,
}

/// Where pbx-cluster itself comes from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Install {
    /// A local apt repository, added as a `file:` source during the build.
    Repo(PathBuf),
    /// A binary copied to /usr/sbin, with our own first-boot unit.
    Binary(PathBuf),
}

/// Everything the build needs to know, resolved and validated.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageSpec {
    pub distro: Distro,
    pub node: Node,
    pub peer: Node,
    /// pbx-cluster's block of /etc/hosts, as apply would write it.
    pub hosts_block: String,
    pub frontend_prefix: u8,
    pub heartbeat_prefix: u8,
    pub mirror: String,
    pub suite: String,
    pub components: Vec<String>,
    /// A keyring file on the build host; `None` uses mmdebstrap's default.
    pub keyring: Option<String>,
    pub extra_sources: Vec<String>,
    /// apt preferences for the extra sources (empty: none needed).
    pub extra_pins: String,
    pub kernel_package: String,
    pub packages: Vec<String>,
    pub network: NetworkRenderer,
    pub install: Install,
    /// Installed from our repository inside the root once the stack is there.
    pub from_repo: Vec<String>,
    pub lab: bool,
    pub ssh_key: Option<String>,
    pub disk_size_mib: u64,
    pub filesystem: Filesystem,
    /// Units that pbx-cluster init enables later; installed but disabled at boot.
    pub cluster_units: Vec<String>,
    /// Their digests are part of the build inputs through the file set.
    #[serde(skip)]
    pub add_files: Vec<AddedFile>,
    /// `None`: the root is made by mmdebstrap.
    pub base: Option<BaseImage>,
}

/// The FAT boot partition holding syslinux, the kernel and the initrd.
pub const BOOT_MIB: u64 = 256;
/// The default disk size; qcow2 stores only what is used.
pub const DEFAULT_DISK_MIB: u64 = 4096;
pub const ROOT_LABEL: &str = "pbxroot";
/// The FAT boot partition's label (mounted by the node, see files::BOOT_MOUNT).
pub const BOOT_LABEL: &str = "PBXBOOT";

pub fn default_mirror(distro: Distro) -> &'static str {
    if distro.is_ubuntu() {
        "http://archive.ubuntu.com/ubuntu"
    } else {
        "http://deb.debian.org/debian"
    }
}

pub fn default_components(distro: Distro) -> Vec<String> {
    let c: &[&str] = if distro.is_ubuntu() {
        // heartbeat, crmsh and asterisk live in universe.
        &["main", "universe"]
    } else {
        &["main"]
    };
    c.iter().map(|s| s.to_string()).collect()
}

/// Asterisk is only in sid on Debian: 12 and 13 get a sid source pinned low, so
/// that only packages missing from the release come from sid.
fn default_extra_sources(distro: Distro, mirror: &str) -> Vec<String> {
    match distro {
        Distro::Debian12 | Distro::Debian13 => vec![format!("deb {mirror} sid main")],
        Distro::Ubuntu2404 | Distro::DebianSid => Vec::new(),
    }
}

fn pins_for(sources: &[String]) -> String {
    let mut out = String::new();
    if sources
        .iter()
        .any(|s| s.split_whitespace().nth(2) == Some("sid"))
    {
        // apt_preferences(5): 100 keeps sid below the release but lets packages
        // that exist only in sid (asterisk) be installed from it.
        out.push_str(concat!(
            "# generated by pbx-cluster - do not edit\n",
            "Package: *\nPin: release n=sid\nPin-Priority: 100\n",
        ));
    }
    out
}

/// The checksum list the distro publishes beside its cloud images.
pub fn default_sums_name(distro: Distro) -> &'static str {
    if distro.is_ubuntu() {
        "SHA256SUMS"
    } else {
        "SHA512SUMS"
    }
}

/// The kernel an image boots. The small cloud/virtual flavours lack OCFS2 and DLM
/// (CONFIG_OCFS2_FS and CONFIG_DLM unset on Debian; on Ubuntu they sit in
/// linux-modules-extra, which linux-image-virtual does not pull in): a mode that
/// mounts a cluster filesystem gets the generic kernel.
pub fn kernel_package(distro: Distro, cluster_fs: bool) -> &'static str {
    match (distro.is_ubuntu(), cluster_fs) {
        (true, false) => "linux-image-virtual",
        (true, true) => "linux-image-generic",
        (false, false) => "linux-image-cloud-amd64",
        (false, true) => "linux-image-amd64",
    }
}

/// Units the image leaves disabled for `pbx-cluster init` to enable or keep out
/// of the boot sequence: every unit apply's boot changes name.
fn cluster_units(model: &Model) -> Vec<String> {
    let boot = crate::render::boot_changes(model);
    let mut u: Vec<String> = boot
        .disable
        .iter()
        .chain(&boot.enable)
        .map(|u| format!("{u}.service"))
        .collect();
    u.sort();
    u.dedup();
    u
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("the profile has no node named `{0}`")]
    UnknownNode(String, Vec<String>),
    #[error("pbx-cluster must come from somewhere: give --repo DIR or --binary PATH")]
    NoInstallSource,
    #[error("--repo and --binary exclude each other")]
    BothInstallSources,
    #[error("--meta-package needs --repo (it comes from our apt repository)")]
    MetaWithoutRepo,
    #[error("the disk of {0} MiB is too small; give at least 1024")]
    DiskTooSmall(u64),
    #[error("--base-image {0}: not an http:// or https:// URL")]
    BaseUrl(String),
    #[error("--base-sums needs --base-image")]
    SumsWithoutBase,
}

impl SpecError {
    pub fn fix(&self) -> String {
        match self {
            SpecError::UnknownNode(_, names) => format!("use one of: {}", names.join(", ")),
            SpecError::NoInstallSource | SpecError::BothInstallSources => {
                "--repo takes a folder built by `pbx-cluster repo build`; --binary a built pbx-cluster".into()
            }
            SpecError::MetaWithoutRepo => "add --repo DIR".into(),
            SpecError::DiskTooSmall(_) => "e.g. --disk-size 4096".into(),
            SpecError::BaseUrl(_) => {
                "give the published image's URL, e.g. https://cloud.debian.org/images/cloud/trixie/latest/debian-13-genericcloud-amd64.qcow2".into()
            }
            SpecError::SumsWithoutBase => "add --base-image URL, or drop --base-sums".into(),
        }
    }
}

impl ImageSpec {
    pub fn resolve(model: &Model, opts: &ImageOptions) -> Result<ImageSpec, SpecError> {
        let Some(idx) = model.nodes.iter().position(|n| n.name == opts.node) else {
            return Err(SpecError::UnknownNode(
                opts.node.clone(),
                model.nodes.iter().map(|n| n.name.clone()).collect(),
            ));
        };
        let install = match (&opts.repo, &opts.binary) {
            (Some(r), None) => Install::Repo(r.clone()),
            (None, Some(b)) => Install::Binary(b.clone()),
            (None, None) => return Err(SpecError::NoInstallSource),
            (Some(_), Some(_)) => return Err(SpecError::BothInstallSources),
        };
        if opts.meta_package.is_some() && opts.repo.is_none() {
            return Err(SpecError::MetaWithoutRepo);
        }
        if opts.disk_size_mib < 1024 {
            return Err(SpecError::DiskTooSmall(opts.disk_size_mib));
        }
        let distro = model.distro;
        let base = match (&opts.base_image, &opts.base_sums) {
            (None, None) => None,
            (None, Some(_)) => return Err(SpecError::SumsWithoutBase),
            (Some(url), sums) => {
                let web = |u: &str| u.starts_with("http://") || u.starts_with("https://");
                if !web(url) || url.ends_with('/') {
                    return Err(SpecError::BaseUrl(url.clone()));
                }
                if let Some(s) = sums.as_deref().filter(|s| !web(s)) {
                    return Err(SpecError::BaseUrl(s.to_string()));
                }
                Some(BaseImage {
                    url: url.clone(),
                    sums_url: sums.clone().unwrap_or_else(|| {
                        super::download::sums_url_beside(url, default_sums_name(distro))
                    }),
                })
            }
        };
        let mirror = opts
            .mirror
            .clone()
            .unwrap_or_else(|| default_mirror(distro).to_string());
        let components = if opts.components.is_empty() {
            default_components(distro)
        } else {
            opts.components.clone()
        };
        let extra_sources = opts
            .extra_sources
            .clone()
            .unwrap_or_else(|| default_extra_sources(distro, &mirror));

        let kernel = kernel_package(distro, model.mode_home().cluster_filesystem());
        let mut packages: Vec<String> = [
            "systemd-sysv",
            "udev",
            "kmod",
            // Not pulled in by util-linux any more (sid 2.42): without it no mount unit starts.
            "mount",
            "dbus",
            "iproute2",
            "iputils-arping",
            "procps",
            "openssh-server",
            kernel,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if distro.is_ubuntu() {
            packages.push("netplan.io".into());
        }
        match &opts.meta_package {
            Some(meta) => packages.push(meta.clone()),
            None => packages.extend(crate::plan::packages::required(model)),
        }
        if opts.repo.is_some() {
            packages.push("pbx-cluster".into());
        }
        if opts.lab {
            packages.push("sip-tester".into());
        }
        packages.extend(opts.packages.iter().cloned());
        packages.sort();
        packages.dedup();

        Ok(ImageSpec {
            distro,
            node: model.nodes[idx].clone(),
            peer: model.nodes[1 - idx].clone(),
            hosts_block: crate::render::host::hosts_block(model).text(),
            frontend_prefix: model.network.frontend.prefix_len(),
            heartbeat_prefix: model.network.heartbeat.prefix_len(),
            suite: opts
                .suite
                .clone()
                .unwrap_or_else(|| distro.suite().to_string()),
            keyring: distro
                .is_ubuntu()
                .then(|| "/usr/share/keyrings/ubuntu-archive-keyring.gpg".to_string()),
            extra_pins: pins_for(&extra_sources),
            extra_sources,
            mirror,
            components,
            kernel_package: kernel.to_string(),
            packages,
            network: if distro.is_ubuntu() {
                NetworkRenderer::Netplan
            } else {
                NetworkRenderer::Networkd
            },
            from_repo: match &install {
                Install::Repo(_) => std::iter::once("pbx-cluster".to_string())
                    .chain(opts.meta_package.clone())
                    .collect(),
                Install::Binary(_) => Vec::new(),
            },
            install,
            lab: opts.lab,
            ssh_key: opts.ssh_key.clone(),
            disk_size_mib: opts.disk_size_mib,
            filesystem: model.storage.filesystem,
            cluster_units: cluster_units(model),
            add_files: opts.add_files.clone(),
            base,
        })
    }

    /// The kernel command line, for the bootloader and for direct kernel boot.
    /// net.ifnames=0 keeps the eth0/eth1 names that profiles use.
    pub fn kernel_cmdline(&self) -> String {
        format!("root=LABEL={ROOT_LABEL} ro console=tty0 console=ttyS0,115200 net.ifnames=0")
    }

    pub fn root_mib(&self) -> u64 {
        self.disk_size_mib - BOOT_MIB - 1
    }
}
