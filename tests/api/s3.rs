//! A real S3-compatible server for the tests: moto's server (`pip install 'moto[server]'`,
//! done by scripts/deps.sh) on 127.0.0.1, started here and stopped by its pid.

use std::net::TcpListener;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fleettickets::config::BucketConfig;

/// Runs moto, asking the kernel to kill it when its parent (a thread that lives as long
/// as the test process) goes away, so no server outlives the tests.
const LAUNCH: &str = "import ctypes, os, signal, sys
ctypes.CDLL(None).prctl(1, signal.SIGKILL)
os.execvp(sys.executable, [sys.executable, '-m', 'moto.server', '-H', '127.0.0.1', '-p', sys.argv[1]])";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_until_up(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto did not start on port {port} (run scripts/deps.sh, which installs it into .venv/)"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The Python that has moto: scripts/deps.sh's `.venv/`, else `python3` on PATH.
fn python() -> std::path::PathBuf {
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python3");
    match venv.exists() {
        true => venv,
        false => "python3".into(),
    }
}

fn launch(port: u16) -> Child {
    Command::new(python())
        .args(["-c", LAUNCH, &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 with moto[server] (scripts/deps.sh installs it)")
}

/// The moto server shared by this test process.
pub fn shared_endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        let port = free_port();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut child = launch(port);
            tx.send(()).ok();
            child.wait().ok();
        });
        rx.recv().unwrap();
        wait_until_up(port);
        format!("http://127.0.0.1:{port}")
    })
}

/// A moto server of one test's own, which the test can freeze (SIGSTOP) and thaw.
pub struct OwnMoto {
    child: Child,
    pub endpoint: String,
}

impl OwnMoto {
    pub fn start() -> OwnMoto {
        let port = free_port();
        let child = launch(port);
        wait_until_up(port);
        OwnMoto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The server stops answering (connections hang), its state intact.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    pub fn thaw(&self) {
        self.signal("-CONT");
    }
}

impl Drop for OwnMoto {
    fn drop(&mut self) {
        self.thaw();
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// A new, empty bucket on `endpoint`, and the configuration that reaches it.
pub async fn new_bucket(endpoint: &str) -> BucketConfig {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "tickets-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let response = reqwest::Client::new()
        .put(format!("{endpoint}/{name}"))
        .send()
        .await
        .expect("moto answers");
    assert!(
        response.status().is_success(),
        "create bucket: {}",
        response.status()
    );
    BucketConfig {
        s3_endpoint: Some(endpoint.to_owned()),
        s3_bucket: name,
        s3_access_key_id: Some("test".into()),
        s3_secret_access_key: Some("test".into()),
        ..BucketConfig::local("unused")
    }
}
