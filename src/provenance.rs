//! Where a run came from: the git checkout of the working directory and the
//! CI job's identifiers from the environment (GitHub Actions, GitLab CI).
//! Recorded in `summary.json` and `capacity.json` when a run starts, so the
//! history, rebuilt from run folders, can say which change moved a figure.

use std::process::Command;

use crate::summary::Provenance;

/// The provenance of a run started now, from the working directory.
pub fn here() -> Provenance {
    let mut p = from_ci(|name| std::env::var(name).ok().filter(|v| !v.is_empty()));
    if let Some(commit) = git(&["rev-parse", "--verify", "-q", "HEAD"]) {
        p.git_commit = Some(commit);
        // CI checks out a detached commit; its branch name is the one that
        // means something there.
        if p.git_branch.is_none() {
            p.git_branch = git(&["symbolic-ref", "--short", "-q", "HEAD"]);
        }
        p.git_dirty = git(&["status", "--porcelain", "--untracked-files=no"])
            .map(|changes| !changes.is_empty())
            .or(Some(false));
    } else {
        p.git_commit = p.ci_commit.clone();
    }
    p
}

/// What a CI job says about itself; `var` reads the environment.
pub fn from_ci(var: impl Fn(&str) -> Option<String>) -> Provenance {
    if var("GITHUB_ACTIONS").as_deref() == Some("true") {
        let url = match (
            var("GITHUB_SERVER_URL"),
            var("GITHUB_REPOSITORY"),
            var("GITHUB_RUN_ID"),
        ) {
            (Some(server), Some(repo), Some(id)) => {
                Some(format!("{server}/{repo}/actions/runs/{id}"))
            }
            _ => None,
        };
        // A pull request's ref is `refs/pull/N/merge`.
        let pr = var("GITHUB_REF").and_then(|r| {
            r.strip_prefix("refs/pull/")
                .and_then(|rest| rest.split('/').next())
                .map(str::to_string)
        });
        return Provenance {
            git_branch: var("GITHUB_HEAD_REF").or_else(|| var("GITHUB_REF_NAME")),
            ci: Some("github".into()),
            ci_run_url: url,
            ci_pr: pr,
            ci_commit: var("GITHUB_SHA"),
            ..Provenance::default()
        };
    }
    if var("GITLAB_CI").as_deref() == Some("true") {
        return Provenance {
            git_branch: var("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME")
                .or_else(|| var("CI_COMMIT_REF_NAME")),
            ci: Some("gitlab".into()),
            ci_run_url: var("CI_JOB_URL").or_else(|| var("CI_PIPELINE_URL")),
            ci_pr: var("CI_MERGE_REQUEST_IID"),
            ci_commit: var("CI_COMMIT_SHA"),
            ..Provenance::default()
        };
    }
    Provenance::default()
}

/// One line of git's answer, or `None` outside a checkout or without git.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        // Reading must not take the index lock a concurrent git needs.
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn github_pull_request() {
        let p = from_ci(env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SERVER_URL", "https://github.example"),
            ("GITHUB_REPOSITORY", "org/platform"),
            ("GITHUB_RUN_ID", "991"),
            ("GITHUB_REF", "refs/pull/42/merge"),
            ("GITHUB_HEAD_REF", "faster-signing"),
            ("GITHUB_REF_NAME", "42/merge"),
            ("GITHUB_SHA", "abc123"),
        ]));
        assert_eq!(p.ci.as_deref(), Some("github"));
        assert_eq!(
            p.ci_run_url.as_deref(),
            Some("https://github.example/org/platform/actions/runs/991")
        );
        assert_eq!(p.ci_pr.as_deref(), Some("42"));
        assert_eq!(p.git_branch.as_deref(), Some("faster-signing"));
        assert_eq!(p.ci_commit.as_deref(), Some("abc123"));
    }

    #[test]
    fn github_push_has_no_pull_request() {
        let p = from_ci(env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REF", "refs/heads/main"),
            ("GITHUB_REF_NAME", "main"),
        ]));
        assert_eq!(p.ci_pr, None);
        assert_eq!(p.git_branch.as_deref(), Some("main"));
        assert_eq!(p.ci_run_url, None);
    }

    #[test]
    fn gitlab_merge_request() {
        let p = from_ci(env(&[
            ("GITLAB_CI", "true"),
            ("CI_JOB_URL", "https://gitlab.example/org/p/-/jobs/7"),
            ("CI_MERGE_REQUEST_IID", "12"),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "retry-budget"),
            ("CI_COMMIT_REF_NAME", "refs/merge-requests/12/head"),
            ("CI_COMMIT_SHA", "def456"),
        ]));
        assert_eq!(p.ci.as_deref(), Some("gitlab"));
        assert_eq!(p.ci_pr.as_deref(), Some("12"));
        assert_eq!(p.git_branch.as_deref(), Some("retry-budget"));
        assert_eq!(p.ci_commit.as_deref(), Some("def456"));
    }

    #[test]
    fn no_ci_is_empty() {
        assert!(from_ci(env(&[("CI", "true")])).is_empty());
    }
}
