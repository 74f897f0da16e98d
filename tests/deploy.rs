//! The Kubernetes manifests under deploy/k8s: valid against the Kubernetes
//! schemas (no cluster runs here, so the `kubernetes-validate` package
//! checks them), and consistent with surge: an Indexed Job whose shard
//! count matches its completions, and a scenario surge accepts.

mod common;

use common::{repo, surge};

#[test]
fn the_manifests_validate_against_the_kubernetes_schemas() {
    let files: Vec<_> = std::fs::read_dir(repo("deploy/k8s"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    assert!(files.len() >= 4);
    let out = std::process::Command::new("python3")
        .args(["-m", "kubernetes_validate", "--strict", "-k", "1.37.0"])
        .args(&files)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "kubernetes-validate refused the manifests (install it with `python3 -m pip install -r tests/requirements.txt`):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_shard_job_runs_every_shard_once_and_the_scenario_is_valid() {
    let job: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(repo("deploy/k8s/job-shards.yaml")).unwrap())
            .unwrap();
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    let n = spec["completions"].as_u64().unwrap();
    assert_eq!(spec["parallelism"].as_u64(), Some(n));
    let script = spec["template"]["spec"]["containers"][0]["args"][0]
        .as_str()
        .unwrap();
    assert!(
        script.contains("K=$((JOB_COMPLETION_INDEX + 1))"),
        "{script}"
    );
    assert!(script.contains(&format!("--shard \"$K/{n}\"")), "{script}");
    assert!(script.contains("--start-at"));

    let map: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(repo("deploy/k8s/configmap.yaml")).unwrap())
            .unwrap();
    let scenario = map["data"]["scenario.yaml"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scenario.yaml");
    std::fs::write(&path, scenario).unwrap();
    let out = surge().arg("validate").arg(&path).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
