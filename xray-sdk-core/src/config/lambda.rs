//! AWS Lambda: how the recorder knows it runs there.

use super::env::EnvSource;

/// `AWS_LAMBDA_FUNCTION_NAME`: set by Lambda in every function's environment.
pub const FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
/// `LAMBDA_TASK_ROOT`: set by Lambda in every function's environment (what the Python SDK checks).
pub const TASK_ROOT: &str = "LAMBDA_TASK_ROOT";
/// `_X_AMZN_TRACE_ID`: the current invocation's trace header, set by runtimes that run one invocation at a time
/// (never with concurrent invocations).
pub const TRACE_ID: &str = "_X_AMZN_TRACE_ID";

/// Whether `env` is an AWS Lambda function's environment: `AWS_LAMBDA_FUNCTION_NAME` or `LAMBDA_TASK_ROOT` is
/// set and not empty.
pub fn in_lambda(env: &dyn EnvSource) -> bool {
    [FUNCTION_NAME, TASK_ROOT]
        .iter()
        .any(|name| env.var(name).is_some_and(|v| !v.trim().is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MapEnv;

    #[test]
    fn detects_lambda_from_either_variable() {
        assert!(in_lambda(&MapEnv::new([(FUNCTION_NAME, "orders")])));
        assert!(in_lambda(&MapEnv::new([(TASK_ROOT, "/var/task")])));
        assert!(!in_lambda(&MapEnv::new([(TASK_ROOT, " ")])));
        assert!(!in_lambda(&MapEnv::default()));
    }
}
