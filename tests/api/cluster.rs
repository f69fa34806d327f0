//! Real servers on 127.0.0.1 for the replica tests and benchmark: a private PostgreSQL
//! primary and a streaming hot standby made by `pg_basebackup -R` (with a replay delay),
//! `fleettickets serve` processes and nginx balancing them. Everything lives under a
//! temporary folder on free ports and is stopped when dropped. (Also compiled into
//! `benches/replicas.rs`.)

#![allow(dead_code)] // the test and the benchmark each use a part

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (free when asked; nothing else here takes ports).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The newest PostgreSQL server binaries of Debian's layout, if installed.
pub fn pg_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            ["initdb", "postgres", "pg_basebackup"]
                .iter()
                .all(|b| bin.join(b).exists())
                .then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn output(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the command runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The uid and gid PostgreSQL runs as: `postgres` when we are root (initdb refuses
/// root), else ourselves.
fn server_user() -> Option<(u32, u32)> {
    let uid: u32 = output(Command::new("id").arg("-u")).parse().ok()?;
    if uid != 0 {
        return None;
    }
    let id = |flag| {
        output(Command::new("id").args([flag, "postgres"]))
            .parse()
            .ok()
    };
    Some((id("-u")?, id("-g")?))
}

fn as_server_user(cmd: &mut Command) -> &mut Command {
    if let Some((uid, gid)) = server_user() {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The last lines of a log file, for failure messages.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Waits until the child accepts TCP connections on the port.
fn wait_for_port(child: &mut Child, port: u16, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        let exited = child.try_wait().ok().flatten();
        assert!(
            exited.is_none() && Instant::now() < deadline,
            "{what} did not start ({exited:?}):\n{}",
            tail(log)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One PostgreSQL server process (`postgres -D`), a child of the test.
pub struct PgServer {
    bin: PathBuf,
    data: PathBuf,
    pub port: u16,
    settings: Vec<String>,
    child: Option<Child>,
}

impl PgServer {
    fn new(bin: &Path, data: PathBuf, settings: &[&str]) -> PgServer {
        let mut server = PgServer {
            bin: bin.to_path_buf(),
            data,
            port: free_port(),
            settings: settings.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        server.start();
        server
    }

    fn log(&self) -> PathBuf {
        self.data.with_extension("log")
    }

    /// Starts it (again) on its port and waits until it accepts connections.
    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .expect("the server log");
        let mut cmd = Command::new(self.bin.join("postgres"));
        cmd.arg("-D")
            .arg(&self.data)
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", self.data.display()))
            .args(["-c", "shared_buffers=32MB", "-c", "fsync=off"]);
        for s in &self.settings {
            cmd.args(["-c", s]);
        }
        let mut child = as_server_user(&mut cmd)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("postgres starts");
        wait_for_port(&mut child, self.port, "PostgreSQL", &self.log());
        // Listening is not yet accepting connections (a standby first gets consistent).
        let deadline = Instant::now() + Duration::from_secs(60);
        while !Command::new(self.bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
            .status()
            .is_ok_and(|s| s.success())
        {
            assert!(
                Instant::now() < deadline,
                "PostgreSQL does not accept connections:\n{}",
                tail(&self.log())
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child = Some(child);
    }

    /// Fast shutdown (SIGINT), as an operator stopping the server would.
    pub fn stop(&mut self) {
        self.signal("-INT");
    }

    fn signal(&mut self, signal: &str) {
        if let Some(mut child) = self.child.take() {
            Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status()
                .ok();
            child.wait().ok();
        }
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        // Immediate shutdown: nothing here needs to survive.
        self.signal("-QUIT");
    }
}

/// A primary and its streaming hot standby, which applies each commit `apply_delay`
/// after the primary made it (`recovery_min_apply_delay`).
pub struct Replicated {
    pub primary: PgServer,
    pub standby: PgServer,
    dir: tempfile::TempDir,
}

impl Replicated {
    /// `None` when the PostgreSQL server binaries are not installed.
    pub fn start(apply_delay: &str) -> Option<Replicated> {
        let bin = pg_bin()?;
        let dir = tempfile::tempdir().expect("a temporary folder");
        if let Some((uid, gid)) = server_user() {
            run(Command::new("chown")
                .arg(format!("{uid}:{gid}"))
                .arg(dir.path()));
        }
        let primary_data = dir.path().join("primary");
        run(as_server_user(Command::new(bin.join("initdb")).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "-N",
            "-D",
        ]))
        .arg(&primary_data));
        // initdb's default pg_hba.conf trusts replication connections from 127.0.0.1.
        let primary = PgServer::new(&bin, primary_data, &["wal_level=replica"]);
        let standby_data = dir.path().join("standby");
        run(as_server_user(
            Command::new(bin.join("pg_basebackup"))
                .args(["-h", "127.0.0.1", "-U", "postgres", "-R", "-X", "stream"])
                .args(["-c", "fast", "-N", "-p", &primary.port.to_string(), "-D"])
                .arg(&standby_data),
        ));
        let delay = format!("recovery_min_apply_delay={apply_delay}");
        let standby = PgServer::new(
            &bin,
            standby_data,
            &[
                "hot_standby=on",
                &delay,
                "wal_retrieve_retry_interval=200ms",
            ],
        );
        Some(Replicated {
            primary,
            standby,
            dir,
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// A `fleettickets serve` process on a free port, its log in `log`, killed when dropped.
pub struct Serve {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Serve {
    pub fn spawn(binary: &str, log: PathBuf, env: &[(&str, String)]) -> Serve {
        let port = free_port();
        let file = std::fs::File::create(&log).expect("the replica's log");
        let mut child = Command::new(binary)
            .arg("serve")
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("API_TOKENS", "")
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("the fleettickets binary runs");
        wait_for_port(&mut child, port, "fleettickets serve", &log);
        Serve { child, port, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Sends SIGTERM (with the `kill` command).
    pub fn terminate(&self) {
        let sent = Command::new("kill")
            .args(["-s", "TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM sent");
    }

    /// Waits at most `patience` for the exit; `None` when still running then.
    pub fn exit_within(&mut self, patience: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("the child can be waited on") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// nginx (no daemon, a child of the test) balancing `upstreams` round-robin.
pub struct Nginx {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Nginx {
    pub fn start(upstreams: &[u16], workers: usize) -> Nginx {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let d = dir.path().display();
        let port = free_port();
        let servers: String = upstreams
            .iter()
            .map(|p| format!("server 127.0.0.1:{p};\n"))
            .collect();
        let conf = format!(
            "daemon off;
             master_process {master};
             worker_processes {workers};
             user root;
             pid {d}/nginx.pid;
             error_log {d}/error.log warn;
             events {{ worker_connections 1024; }}
             http {{
               access_log off;
               client_body_temp_path {d}/body;
               proxy_temp_path {d}/proxy;
               fastcgi_temp_path {d}/fastcgi;
               uwsgi_temp_path {d}/uwsgi;
               scgi_temp_path {d}/scgi;
               upstream replicas {{ {servers} keepalive 64; }}
               server {{
                 listen 127.0.0.1:{port};
                 location / {{
                   proxy_pass http://replicas;
                   proxy_http_version 1.1;
                   proxy_set_header Connection \"\";
                 }}
               }}
             }}",
            master = if workers > 1 { "on" } else { "off" },
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("nginx.conf");
        let log = dir.path().join("error.log");
        let mut child = Command::new("nginx")
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx is installed (scripts/deps.sh installs it)");
        wait_for_port(&mut child, port, "nginx", &log);
        Nginx {
            child,
            port,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: a master stops its workers.
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .ok();
        self.child.wait().ok();
    }
}
