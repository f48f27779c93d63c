"""`ipam-server --snapshot FILE` keeps the state across a restart, and refuses a corrupt file.

Standard library only. Usage: snapshot_test.py PATH_TO_IPAM_SERVER
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import urllib.request

PROJECT = "564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5"


def start(server, snapshot):
    proc = subprocess.Popen(
        [server, "--listen", "127.0.0.1:0", "--snapshot", snapshot],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = proc.stdout.readline().strip()
    prefix = "listening on "
    assert line.startswith(prefix), f"unexpected first line from the server: {line!r}"
    return proc, "http://" + line[len(prefix):]


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=10)
    assert code == 0, f"the server exited with {code}"


def call(url, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method)
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def main():
    server = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        snapshot = os.path.join(tmp, "ipam.json")

        proc, url = start(server, snapshot)
        try:
            pn = call(url, "POST", "/vpc/v2/regions/nl-ams/private-networks", {"project_id": PROJECT})
            ip = call(
                url,
                "POST",
                "/ipam/v1/regions/nl-ams/ips",
                {
                    "project_id": PROJECT,
                    "source": {"private_network_id": pn["id"]},
                    "tags": ["kept"],
                    "resource": {"mac_address": "02:00:00:00:00:0a", "name": "web"},
                },
            )
        finally:
            stop(proc)
        assert os.path.exists(snapshot), "no snapshot written on shutdown"
        assert not os.path.exists(snapshot + ".tmp"), "the temporary file was left behind"

        proc, url = start(server, snapshot)
        try:
            again = call(url, "GET", f"/ipam/v1/regions/nl-ams/ips/{ip['id']}")
            assert again == ip, f"restored {again} differs from booked {ip}"
            # The restored pool goes on from where it was.
            second = call(
                url,
                "POST",
                "/ipam/v1/regions/nl-ams/ips",
                {"project_id": PROJECT, "source": {"private_network_id": pn["id"]}},
            )
            assert second["address"] != ip["address"], "a restored address was handed out again"
        finally:
            stop(proc)

        with open(snapshot, "w") as f:
            f.write('{"format_version": 1, "clock_floor": "garbage"}')
        code = subprocess.run(
            [server, "--listen", "127.0.0.1:0", "--snapshot", snapshot],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=10,
        )
        assert code.returncode == 1, f"a corrupt snapshot started the server ({code.returncode})"
        assert "not a snapshot" in code.stderr, code.stderr
    print("server snapshot test: ok")


if __name__ == "__main__":
    main()
