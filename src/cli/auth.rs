//! Who may act on a job: its `allowed_users` and `allowed_groups` (operating-system users
//! and groups). With neither set, anyone who can write the database may. A refusal is a
//! clear error, and the caller audits it.

use crate::model::Job;

/// The groups of the user running unyo, by name.
fn my_groups() -> Vec<String> {
    let mut gids = nix::unistd::getgroups().unwrap_or_default();
    gids.push(nix::unistd::getegid());
    gids.into_iter()
        .filter_map(|g| nix::unistd::Group::from_gid(g).ok().flatten())
        .map(|g| g.name)
        .collect()
}

/// Whether the user running unyo may `action` the job; `Err` says why not.
pub fn check(job: &Job, action: &str) -> Result<(), String> {
    if job.allowed_users.is_empty() && job.allowed_groups.is_empty() {
        return Ok(());
    }
    let user = crate::domain::host::os_user();
    if job.allowed_users.contains(&user) {
        return Ok(());
    }
    let groups = my_groups();
    if job.allowed_groups.iter().any(|g| groups.contains(g)) {
        return Ok(());
    }
    let mut who = Vec::new();
    if !job.allowed_users.is_empty() {
        who.push(format!("users {}", job.allowed_users.join(", ")));
    }
    if !job.allowed_groups.is_empty() {
        who.push(format!("members of {}", job.allowed_groups.join(", ")));
    }
    Err(format!(
        "{user} may not {action} `{}`: only {} may (allowed_users, allowed_groups in {})",
        job.name,
        who.join(" and "),
        job.file.display()
    ))
}
