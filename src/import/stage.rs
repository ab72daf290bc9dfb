//! Atomic imports: everything is written into a private staging directory inside the
//! warehouse (`<root>/.esmc-import-<pid>/`, hidden, so no reader lists it) and swapped
//! into place at the end (`esmc_schemas::durable`: fsynced, one atomic exchange per
//! directory). A killed import leaves only that hidden directory, which the next import
//! removes unless its process still runs; no partial partition is ever visible.

use anyhow::{Context, Result, bail};
use esmc_schemas::durable;
use std::path::{Path, PathBuf};

const PREFIX: &str = ".esmc-import-";

/// A staging directory; removed on drop unless committed.
pub struct Staging {
    root: PathBuf,
    dir: PathBuf,
    committed: bool,
}

/// Whether `root` holds anything a user would lose (hidden entries do not count).
pub fn is_empty(root: &Path) -> Result<bool> {
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", root.display())),
    };
    for entry in entries {
        let name = entry?.file_name();
        if !name.to_string_lossy().starts_with('.') {
            return Ok(false);
        }
    }
    Ok(true)
}

impl Staging {
    /// Creates `root` if needed, removes stale staging directories of killed imports and
    /// opens a fresh one.
    pub fn begin(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create {}", root.display()))?;
        for entry in std::fs::read_dir(root)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // a staging directory of a live process (a concurrent import) stays
            let live = name
                .strip_prefix(PREFIX)
                .and_then(|pid| pid.parse().ok())
                .is_some_and(durable::pid_alive);
            if name.starts_with(PREFIX) && !live {
                std::fs::remove_dir_all(entry.path())
                    .with_context(|| format!("cannot remove stale {}", entry.path().display()))?;
            }
        }
        let dir = root.join(format!("{PREFIX}{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Staging {
            root: root.to_path_buf(),
            dir,
            committed: false,
        })
    }

    /// The staging directory: write `<rel>` here to have it appear as `<root>/<rel>`.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Makes each staged `rel` path `<root>/<rel>`: a directory in one atomic exchange
    /// with what is there (the old copy is then removed), a file by an atomic rename,
    /// both fsynced. Then deletes each of `remove` (paths derived from what was replaced)
    /// and the staging directory.
    pub fn commit(mut self, rels: &[&str], remove: &[&str]) -> Result<()> {
        for rel in rels {
            let staged = self.dir.join(rel);
            let target = self.root.join(rel);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            if staged.is_dir() {
                durable::publish_dir(&staged, &target)?;
            } else if staged.is_file() {
                durable::publish_file(&staged, &target)?;
            } else {
                bail!("internal: nothing staged at {}", staged.display());
            }
        }
        for rel in remove {
            let path = self.root.join(rel);
            if path.exists() {
                std::fs::remove_dir_all(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
            }
        }
        self.committed = true;
        std::fs::remove_dir_all(&self.dir)
            .with_context(|| format!("cannot remove {}", self.dir.display()))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
