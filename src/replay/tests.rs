//! End-to-end tests of the runner against a local wiremock server.

use super::*;
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("replay-test-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn options(target: &str) -> ReplayOptions {
    let vars = [
        ("master_account_id", "acc1"),
        ("master_account_name", "master"),
        ("admin_username", "admin"),
        ("admin_password", "secret"),
    ];
    ReplayOptions {
        target: target.to_string(),
        vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect(),
        filter: None,
    }
}

const LOGIN_SCENARIO: &str = r#"{
  "description": "log in, then read the logged-in user",
  "steps": [
    {
      "name": "user_auth",
      "request": {
        "method": "PUT",
        "path": "/v2/user_auth",
        "body": {"data": {"credentials": "{{md5:{{admin_username}}:{{admin_password}}}}",
                          "account_name": "{{master_account_name}}"}}
      },
      "expect": {
        "status": 201,
        "body": {"auth_token": "{{capture:token|regex:^[a-z0-9]+$}}",
                 "data": {"account_id": "{{master_account_id}}", "owner_id": "{{capture:owner}}"}}
      }
    },
    {
      "name": "read user",
      "request": {
        "method": "GET",
        "path": "/v2/accounts/{{master_account_id}}/users/{{owner}}",
        "query": {"paginate": false},
        "headers": {"X-Auth-Token": "{{token}}"}
      },
      "expect": {
        "status": [200, 203],
        "headers": {"Content-Type": "{{regex:^application/json}}"},
        "absent_headers": ["location"],
        "body": {"data": {"id": "{{owner}}", "username": "{{admin_username}}", "password": "{{absent}}",
                          "roles": {"$contains": ["admin"]}}}
      }
    },
    {
      "name": "redirects are not followed",
      "request": {"method": "GET", "path": "/old"},
      "expect": {"status": 302, "headers": {"location": "/v2/new"}}
    }
  ]
}"#;

async fn kazoo_mock() -> MockServer {
    let server = MockServer::start().await;
    // md5("admin:secret")
    Mock::given(method("PUT"))
        .and(path("/v2/user_auth"))
        .and(body_json(json!({"data": {"credentials": "2d1e4f91dae49cd08eaba2293e422273", "account_name": "master"}})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "auth_token": "tok123", "status": "success",
            "data": {"account_id": "acc1", "owner_id": "u1"}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/accounts/acc1/users/u1"))
        .and(query_param("paginate", "false"))
        .and(header("x-auth-token", "tok123"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": {"id": "u1", "username": "admin", "roles": ["user", "admin"]}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/old"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", "/v2/new"))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn scenario_passes_against_matching_server() {
    let server = kazoo_mock().await;
    let dir = TempDir::new();
    let file = dir.write("login.json", LOGIN_SCENARIO);
    let report = replay_file(&file, &options(&server.uri())).await;
    assert!(
        report.passed(),
        "{}",
        render_report(std::slice::from_ref(&report))
    );
    assert_eq!(report.steps.len(), 3);
    assert_eq!(
        report.steps[1].request_line,
        "GET /v2/accounts/acc1/users/u1?paginate=false"
    );
    let text = render_report(&[report]);
    assert!(text.starts_with("PASS "), "{text}");
    assert!(text.ends_with("\n1 passed, 0 failed\n"), "{text}");
}

#[tokio::test]
async fn failure_shows_diff_and_stops_the_scenario() {
    let server = kazoo_mock().await;
    let dir = TempDir::new();
    // Same scenario, but the server's user is not who the fixture expects.
    let wrong = LOGIN_SCENARIO
        .replace(
            r#""username": "{{admin_username}}""#,
            r#""username": "root""#,
        )
        .replace(r#"["admin"]"#, r#"["superduper"]"#);
    dir.write("a/wrong.json", &wrong);
    dir.write(
        "b/broken.json",
        r#"{"steps": [{"request": {"method": "GET"}}]}"#,
    );
    dir.write("c/ok.json", LOGIN_SCENARIO);
    dir.write("c/notes.txt", "not a fixture");

    let reports = replay_dir(&dir.0, &options(&server.uri())).await;
    let names: Vec<String> = reports
        .iter()
        .map(|r| r.path.strip_prefix(&dir.0).unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["a/wrong.json", "b/broken.json", "c/ok.json"]);
    assert!(!reports[0].passed() && !reports[1].passed() && reports[2].passed());
    // The scenario stopped at step 2: step 3 was never sent.
    assert_eq!(reports[0].steps.len(), 2);

    let text = render_report(&reports);
    for needle in [
        "FAIL ",
        "step 2/3 \"read user\": GET /v2/accounts/acc1/users/u1?paginate=false",
        "status: expected 200 or 203, got 200",
        r#"/data/username: expected "root", got "admin""#,
        r#"/data/roles: expected an element matching "superduper", got ["user","admin"]"#,
        "response body: {",
        "(1 later step(s) not run)",
        "missing field `path`",
        "\n1 passed, 2 failed\n",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }

    let filtered = replay_dir(
        &dir.0,
        &ReplayOptions {
            filter: Some("c/".into()),
            ..options(&server.uri())
        },
    )
    .await;
    assert_eq!(filtered.len(), 1);
    assert!(filtered[0].passed());
}

#[tokio::test]
async fn unreachable_target_and_missing_files_are_reported_not_panics() {
    // Bind then drop a listener to get a local port with nobody behind it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = TempDir::new();
    let file = dir.write("login.json", LOGIN_SCENARIO);
    let report = replay_file(&file, &options(&format!("http://127.0.0.1:{port}"))).await;
    assert!(!report.passed());
    let text = render_report(std::slice::from_ref(&report));
    assert!(
        text.contains("status: expected 201, got no response"),
        "{text}"
    );
    assert!(text.contains("error: request failed"), "{text}");

    let missing = replay_dir(dir.0.join("nope"), &options("http://127.0.0.1:1")).await;
    assert_eq!(missing.len(), 1);
    assert!(missing[0]
        .error
        .as_deref()
        .unwrap_or("")
        .contains("cannot list"));
}

#[tokio::test]
async fn run_cli_rejects_bad_target_and_empty_selection() {
    let dir = TempDir::new();
    assert!(run_cli(&dir.0, "not a url", vec![], None).await.is_err());
    assert!(
        run_cli(&dir.0.join("nope"), "http://127.0.0.1:1", vec![], None)
            .await
            .is_err()
    );
    // An empty directory replays nothing, which must not count as success.
    assert!(!run_cli(&dir.0, "http://127.0.0.1:1", vec![], None)
        .await
        .unwrap());
}

#[test]
fn readme_example_is_a_valid_fixture() {
    let readme_path = concat!(env!("CARGO_MANIFEST_DIR"), "/compat-fixtures/README.md");
    let readme = std::fs::read_to_string(readme_path).expect("compat-fixtures/README.md");
    let example = readme
        .split("## Full example")
        .nth(1)
        .and_then(|rest| rest.split("```json\n").nth(1))
        .and_then(|block| block.split("\n```").next())
        .expect("a json block under `## Full example`");
    let fixture = parse_fixture(example).unwrap_or_else(|e| panic!("README example: {e}"));
    assert_eq!(fixture.steps.len(), 5);
}
