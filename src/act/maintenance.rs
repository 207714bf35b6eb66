//! `unyo act maintenance on|off --params FILE`: sets the top-level `maintenance:` flag of the
//! online system's parameter file. Only that line changes (comments and order stay); the file
//! is written beside itself and renamed into place, keeping its permissions.

use std::path::Path;

use super::{ActError, io};

/// Sets `maintenance: <on>` in `params`; returns the value it had.
pub fn set(params: &Path, on: bool) -> Result<bool, ActError> {
    let _lock = super::edit_lock(params)?;
    let text = std::fs::read_to_string(params).map_err(io("read", params))?;
    let mut before = None;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        if let Some(v) = body.strip_prefix("maintenance:")
            && before.is_none()
        {
            let v = v.split('#').next().unwrap_or("").trim();
            before = Some(match v {
                "true" => true,
                "false" => false,
                other => {
                    return Err(ActError::Failed(format!(
                        "{}: `maintenance` is `{other}`, not true or false",
                        params.display()
                    )));
                }
            });
            out.push_str(&format!("maintenance: {on}"));
            out.push_str(&line[body.len()..]);
        } else {
            out.push_str(line);
        }
    }
    let Some(before) = before else {
        return Err(ActError::Failed(format!(
            "{}: no top-level `maintenance:` line",
            params.display()
        )));
    };
    write_atomic(params, out.as_bytes())?;
    Ok(before)
}

/// Writes `path` through a temp file beside it and a rename, with the old file's permissions.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ActError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.unyo-{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io("write", &tmp))?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(&tmp, meta.permissions())
            .map_err(io("set permissions of", &tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        ActError::Io {
            action: "replace",
            path: path.to_owned(),
            source: e,
        }
    })
}
