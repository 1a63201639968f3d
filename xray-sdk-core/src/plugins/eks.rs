//! EKS: the pod's service account, its host name, its cgroup, and the cluster's name.

use serde::Deserialize;
use xray_sdk_types::document::{Aws, Eks};

use super::detect::{Settings, read_small};
use super::metadata::MetadataClient;

/// The config map the cluster's name is read from (the one the CloudWatch agent's setup creates).
const CLUSTER_INFO_PATH: &str = "/api/v1/namespaces/amazon-cloudwatch/configmaps/cluster-info";
/// The largest cgroup file read.
const MAX_CGROUP: u64 = 64 << 10;

/// Fills `aws.eks` when the pod's service-account token exists.
pub(super) fn detect(settings: &Settings, aws: &mut Aws) -> bool {
    if !settings.service_account_dir.join("token").is_file() {
        return false;
    }
    let container_id = read_small(&settings.cgroup_file, MAX_CGROUP)
        .as_deref()
        .and_then(container_id);
    aws.eks = Some(Eks {
        pod: settings.hostname(),
        cluster_name: cluster_name(settings),
        container_id,
        ..Eks::default()
    });
    true
}

fn cluster_name(settings: &Settings) -> Option<String> {
    if let Some(name) = &settings.eks_cluster_name {
        return Some(name.trim().to_owned());
    }
    let url = settings.kubernetes_api.as_deref()?;
    let client = match MetadataClient::new(url, settings.timeout) {
        Ok(c) => c,
        Err(e) => {
            log::warn!("X-Ray: the EKS plugin cannot use the Kubernetes API: {e}");
            return None;
        }
    };
    #[derive(Deserialize)]
    struct ConfigMap {
        data: Data,
    }
    #[derive(Deserialize)]
    struct Data {
        #[serde(rename = "cluster.name")]
        cluster_name: String,
    }
    match client.get_json::<ConfigMap>(CLUSTER_INFO_PATH, &[("Accept", "application/json")]) {
        Ok(map) if !map.data.cluster_name.trim().is_empty() => {
            Some(map.data.cluster_name.trim().to_owned())
        }
        Ok(_) => None,
        Err(e) => {
            e.log("EKS", client.url(), true);
            None
        }
    }
}

/// The container id in a cgroup file: the last 64-hex-digit run of a line's last path segment, as in
/// `…/kubepods/…/<id>` (cgroup v1) or `…/cri-containerd-<id>.scope`.
pub(super) fn container_id(cgroup: &str) -> Option<String> {
    cgroup.lines().find_map(|line| {
        let last = line.rsplit('/').next()?;
        let last = last.strip_suffix(".scope").unwrap_or(last);
        let id = last.get(last.len().checked_sub(64)?..)?;
        id.bytes()
            .all(|b| b.is_ascii_hexdigit())
            .then(|| id.to_ascii_lowercase())
    })
}

#[cfg(test)]
mod tests {
    use super::container_id;

    #[test]
    fn container_ids() {
        let id = "a4d0c8f4e2b34c5bbd0d5c3a2e1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a39";
        let v1 = format!(
            "12:pids:/kubepods/besteffort/pod1234/{id}\n11:memory:/kubepods/besteffort/pod1234/{id}\n"
        );
        assert_eq!(container_id(&v1).as_deref(), Some(id));
        let systemd =
            format!("0::/kubepods.slice/kubepods-burstable.slice/cri-containerd-{id}.scope\n");
        assert_eq!(container_id(&systemd).as_deref(), Some(id));
        assert_eq!(container_id("0::/\n"), None);
        assert_eq!(container_id("1:name=systemd:/user.slice/é\n"), None);
        assert_eq!(container_id(""), None);
    }
}
