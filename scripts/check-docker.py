#!/usr/bin/env python3
"""What can be checked of the Dockerfile and compose.yaml without a Docker engine: the
compose file parses and wires the stack together, the image is slim, non-root and starts
`fleettickets serve`, every file it copies exists, and every variable either file gives
the service is a setting of the binary (`serve --help`) and a row of the README's table.

    scripts/check-docker.py [BINARY]     (default target/debug/fleettickets)
"""
import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# Variables for the operating system, not settings of the service.
NOT_SETTINGS = {"TZ"}
problems = []


def check(ok, message):
    if not ok:
        problems.append(message)


def dockerfile_final_stage(text):
    """The instructions of the last stage, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", text)
    lines = [l.strip() for l in joined.splitlines() if l.strip() and not l.lstrip().startswith("#")]
    stages = [i for i, l in enumerate(lines) if l.upper().startswith("FROM ")]
    return lines, lines[stages[-1]:]


def env_pairs(instruction):
    """`ENV A=1 B=2` -> {A: 1, B: 2}."""
    return dict(re.findall(r"(\w+)=(\S+)", instruction[4:]))


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "target/debug/fleettickets")
    readme = (ROOT / "README.md").read_text()
    table = {v for cell in re.findall(r"^\|([^|]+)\|", readme, re.M)
             for v in re.findall(r"`([A-Z][A-Z0-9_]+)`", cell)}
    helptext = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True, check=True).stdout
    flags = set(re.findall(r"\[env: ([A-Z0-9_]+)[=\]]", helptext))

    # The image.
    lines, final = dockerfile_final_stage((ROOT / "Dockerfile").read_text())
    check(final[0].split()[1].endswith("-slim") or "-slim-" in final[0], f"final image is not slim: {final[0]}")
    users = [l.split()[1] for l in final if l.upper().startswith("USER ")]
    check(users and users[-1] not in ("root", "0"), "the image does not drop root")
    entry = [json.loads(l[len("ENTRYPOINT"):]) for l in final if l.upper().startswith("ENTRYPOINT")]
    check(entry == [["fleettickets", "serve"]], f"entrypoint is {entry}, not fleettickets serve")
    check("entrypoint is\n`fleettickets serve`" in readme or "entrypoint is `fleettickets serve`" in readme,
          "the README does not say the entrypoint is `fleettickets serve`")
    check(not any("npm" in l for l in lines), "the image still needs npm (the map is embedded)")
    for l in lines:
        if l.upper().startswith("COPY ") and "--from=" not in l:
            for src in l.split()[1:-1]:
                check((ROOT / src).exists(), f"Dockerfile copies {src}, which does not exist")
    copied = {src.rstrip("/") for l in lines if l.upper().startswith("COPY ") and "--from=" not in l
              for src in l.split()[1:-1]}
    members = re.search(r"^members = \[(.*)\]", (ROOT / "Cargo.toml").read_text(), re.M)
    for member in re.findall(r'"([^"]+)"', members.group(1) if members else ""):
        top = member.split("/")[0]
        check(member == "." or top in copied, f"the workspace member {member} is not copied into the build")
    image_env = {}
    for l in final:
        if l.upper().startswith("ENV "):
            image_env.update(env_pairs(l))

    # The stack.
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    for name in ("db", "minio", "bucket", "fleettickets", "grafana"):
        check(name in services, f"compose.yaml has no service {name}")
    check(services["db"]["image"].startswith("postgis/postgis:"), "the database is not PostGIS")
    app = services["fleettickets"]
    check(app.get("build") == ".", "the service is not built from this Dockerfile")
    app_env = app["environment"]
    check(app_env["DATABASE_URL"].split("@")[1].split(":")[0] == "db", "DATABASE_URL does not point at db")
    check(app_env["S3_ENDPOINT"].split("//")[1].split(":")[0] == "minio", "S3_ENDPOINT does not point at minio")
    check(app_env["S3_BUCKET"] in services["bucket"]["entrypoint"][-1], "the bucket job does not create S3_BUCKET")
    for volume in services["grafana"]["volumes"] + services["bucket"]["volumes"]:
        src = volume.split(":")[0]
        check((ROOT / src).exists(), f"compose.yaml mounts {src}, which does not exist")
    datasource = yaml.safe_load((ROOT / "grafana/provisioning/datasources/fleettickets.yaml").read_text())
    url = datasource["datasources"][0]["url"]
    port = image_env["LISTEN_ADDR"].rsplit(":", 1)[1]
    check(url.startswith(f"http://fleettickets:{port}/"), f"Grafana's datasource {url} is not the service on :{port}")
    check(f"{port}:{port}" in app["ports"], f"the service's port {port} is not published")

    for var in sorted((set(image_env) | set(app_env)) - NOT_SETTINGS):
        check(var in flags, f"{var} is not a setting of `fleettickets serve`")
        check(var in table, f"{var} is not in the README's configuration table")

    if problems:
        print("check-docker: " + "\ncheck-docker: ".join(problems), file=sys.stderr)
        sys.exit(1)
    print(f"check-docker: compose.yaml parses; {len(services)} services; the image and the stack "
          f"give the service {len((set(image_env) | set(app_env)) - NOT_SETTINGS)} settings, all documented")


main()
