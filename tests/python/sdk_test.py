"""The official Scaleway Python SDK (`scaleway` on PyPI) as a client of `ipam-server`.

Usage: python sdk_test.py PATH/TO/ipam-server

Starts the server on a free loopback port (`--listen 127.0.0.1:0`, the port read from its first
line of output), runs every IPAM v1 method and the VPC v2 calls that make Private Networks exist,
asserts the results, stops the server with SIGTERM, and exits non-zero on the first failure.
No SDK call is patched or worked around.
"""

import signal
import subprocess
import sys
import uuid

from scaleway import Client
from scaleway.ipam.v1 import IpamV1API
from scaleway.ipam.v1.types import CustomResource, ListIPsRequestOrderBy, Source
from scaleway.vpc.v2 import VpcV2API
from scaleway_core.api import ScalewayException

PROJECT = "564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5"
MAC_A = "bc:24:11:74:d0:5a"
MAC_B = "bc:24:11:74:d0:5b"


def expect_error(status, error_type, call, *args, **kwargs):
    """Runs `call` and asserts that the SDK raises its exception with this status and type."""
    try:
        call(*args, **kwargs)
    except ScalewayException as e:
        assert e.status_code == status, f"expected {status}, got {e.status_code}: {e}"
        body = e.response.json()
        assert body["type"] == error_type, body
        assert e.response.headers["content-type"] == "application/json", e.response.headers
        return body
    raise AssertionError(f"{call.__name__} should have failed with {status}")


def run(api_url):
    client = Client(
        access_key="SCWXXXXXXXXXXXXXXXXX",
        secret_key=str(uuid.uuid4()),
        default_project_id=PROJECT,
        default_organization_id=PROJECT,
        default_region="fr-par",
        default_zone="fr-par-1",
        api_url=api_url,
    )
    ipam = IpamV1API(client)
    vpc_api = VpcV2API(client)

    # VPC v2: a VPC, and Private Networks in it.
    vpc = vpc_api.create_vpc(enable_routing=True, enable_transitivity=False, name="sdk-vpc")
    assert vpc.name == "sdk-vpc" and vpc.project_id == PROJECT, vpc
    pn = vpc_api.create_private_network(
        default_route_propagation_enabled=False,
        name="sdk-pn",
        subnets=["172.16.32.0/22"],
        vpc_id=vpc.id,
        tags=["sdk"],
    )
    assert pn.vpc_id == vpc.id, pn
    subnets = {s.subnet: s for s in pn.subnets}
    assert "172.16.32.0/22" in subnets, subnets
    v4_subnet = subnets["172.16.32.0/22"].id
    v6 = [s for s in pn.subnets if ":" in s.subnet]
    assert len(v6) == 1 and v6[0].subnet.endswith("/64"), pn.subnets
    pn2 = vpc_api.create_private_network(default_route_propagation_enabled=False)
    assert len(pn2.subnets) == 2, pn2.subnets

    # BookIP: the lowest free addresses, in CIDR form, from the PN's subnet.
    src = Source(private_network_id=pn.id)
    ip1 = ipam.book_ip(source=src, is_ipv6=False, tags=["web", "a"])
    assert ip1.address == "172.16.32.2/22", ip1.address
    assert ip1.source.subnet_id == v4_subnet, ip1.source
    assert ip1.source.private_network_id is None, ip1.source
    assert ip1.project_id == PROJECT and ip1.is_ipv6 is False, ip1
    assert ip1.resource is None and ip1.tags == ["web", "a"] and ip1.reverses == [], ip1
    assert ip1.created_at == ip1.updated_at, ip1
    assert ip1.region == "fr-par" and ip1.zone is None, ip1
    ip2 = ipam.book_ip(
        source=src, is_ipv6=False, resource=CustomResource(mac_address=MAC_A, name="vm-a")
    )
    assert ip2.address == "172.16.32.3/22", ip2.address
    assert ip2.resource.mac_address == MAC_A.upper(), ip2.resource
    assert ip2.resource.id == ip2.id and str(ip2.resource.type_) == "custom", ip2.resource
    ip3 = ipam.book_ip(source=src, is_ipv6=False, address="172.16.32.10", tags=["db"])
    assert ip3.address == "172.16.32.10/22", ip3.address
    ip6 = ipam.book_ip(source=Source(subnet_id=v6[0].id), is_ipv6=True)
    assert ip6.is_ipv6 and ip6.address.endswith("/64") and ":" in ip6.address, ip6.address
    assert ip6.source.subnet_id == v6[0].id, ip6.source

    # GetIP and UpdateIP.
    got = ipam.get_ip(ip_id=ip1.id)
    assert got.id == ip1.id and got.address == ip1.address, got
    upd = ipam.update_ip(ip_id=ip1.id, tags=["web", "updated"])
    assert upd.tags == ["web", "updated"] and upd.updated_at > upd.created_at, upd
    assert ipam.get_ip(ip_id=ip1.id).tags == ["web", "updated"]

    # ListIPs: filters, orders, total_count, paging and list-all.
    page = ipam.list_i_ps(private_network_id=pn.id)
    assert page.total_count == 4 and len(page.ips) == 4, page.total_count
    assert [i.id for i in page.ips] == [ip6.id, ip3.id, ip2.id, ip1.id], "created_at_desc"
    page = ipam.list_i_ps(order_by=ListIPsRequestOrderBy.IP_ADDRESS_ASC, is_ipv6=False)
    assert [i.address for i in page.ips] == [
        "172.16.32.2/22",
        "172.16.32.3/22",
        "172.16.32.10/22",
    ], page.ips
    page = ipam.list_i_ps(order_by=ListIPsRequestOrderBy.CREATED_AT_ASC, page_size=1, page=2)
    assert page.total_count == 4 and [i.id for i in page.ips] == [ip2.id], page
    assert ipam.list_i_ps(tags=["db", "updated"]).total_count == 2
    assert ipam.list_i_ps(attached=True).total_count == 1
    assert ipam.list_i_ps(attached=False).total_count == 3
    assert ipam.list_i_ps(is_ipv6=True).ips[0].id == ip6.id
    assert ipam.list_i_ps(mac_address=MAC_A.upper()).ips[0].id == ip2.id
    assert ipam.list_i_ps(resource_name="vm-").ips[0].id == ip2.id
    assert ipam.list_i_ps(resource_type="custom").total_count == 1
    assert ipam.list_i_ps(ip_ids=[ip1.id, ip3.id]).total_count == 2
    assert ipam.list_i_ps(subnet_id=v4_subnet).total_count == 3
    assert ipam.list_i_ps(vpc_id=vpc.id).total_count == 4
    assert ipam.list_i_ps(zonal="fr-par-1").total_count == 0
    assert ipam.list_i_ps(private_network_id=pn2.id).total_count == 0
    assert ipam.list_i_ps(page=9).ips == []
    every = ipam.list_i_ps_all(page_size=1, order_by=ListIPsRequestOrderBy.IP_ADDRESS_DESC)
    assert len(every) == 4 and every[0].id == ip6.id and every[-1].id == ip1.id, every
    every = ipam.list_i_ps_all(private_network_id=pn.id, is_ipv6=False, page_size=2)
    assert {i.id for i in every} == {ip1.id, ip2.id, ip3.id}, every

    # AttachIP, DetachIP, MoveIP.
    att = ipam.attach_ip(ip_id=ip1.id, resource=CustomResource(mac_address=MAC_B))
    assert att.resource.mac_address == MAC_B.upper() and att.resource.id == ip1.id, att
    body = expect_error(
        412,
        "precondition_failed",
        ipam.attach_ip,
        ip_id=ip1.id,
        resource=CustomResource(mac_address=MAC_A),
    )
    assert body["precondition"] == "resource_still_in_use", body
    det = ipam.detach_ip(ip_id=ip1.id, resource=CustomResource(mac_address=MAC_B.upper()))
    assert det.resource is None, det
    moved = ipam.move_ip(
        ip_id=ip2.id,
        from_resource=CustomResource(mac_address=MAC_A),
        to_resource=CustomResource(mac_address=MAC_B, name="vm-b"),
    )
    assert moved.resource.mac_address == MAC_B.upper() and moved.resource.name == "vm-b"
    body = expect_error(
        412,
        "precondition_failed",
        ipam.move_ip,
        ip_id=ip2.id,
        from_resource=CustomResource(mac_address=MAC_A),
    )
    assert body["precondition"] == "resource_not_usable", body
    expect_error(412, "precondition_failed", ipam.release_ip, ip_id=ip2.id)
    moved = ipam.move_ip(ip_id=ip2.id, from_resource=CustomResource(mac_address=MAC_B))
    assert moved.resource is None, moved

    # Errors as the SDK's exceptions.
    missing = str(uuid.uuid4())
    body = expect_error(404, "not_found", ipam.get_ip, ip_id=missing)
    assert body == {
        "message": "resource is not found",
        "resource": "ip",
        "resource_id": missing,
        "type": "not_found",
    }, body
    body = expect_error(409, "already_exists", ipam.book_ip, source=src, is_ipv6=False, address="172.16.32.10")
    assert body["resource_id"] == ip3.id, body
    body = expect_error(400, "invalid_arguments", ipam.book_ip, source=src, is_ipv6=False, address="10.0.0.1")
    assert body["details"][0]["argument_name"] == "address", body
    expect_error(400, "invalid_arguments", ipam.book_ip, source=Source(zonal="fr-par-1"), is_ipv6=False)
    body = expect_error(
        412, "precondition_failed", vpc_api.delete_private_network, private_network_id=pn.id
    )
    assert body["help_message"] == "Private Network must be empty to be deleted", body

    # ReleaseIP and ReleaseIPSet (204, empty bodies).
    assert ipam.release_ip(ip_id=ip1.id) is None
    expect_error(404, "not_found", ipam.get_ip, ip_id=ip1.id)
    expect_error(404, "not_found", ipam.release_ip_set, ip_ids=[ip2.id, missing])
    assert ipam.get_ip(ip_id=ip2.id).id == ip2.id, "a failed release set releases nothing"
    assert ipam.release_ip_set(ip_ids=[ip2.id, ip3.id, ip6.id]) is None
    assert ipam.list_i_ps().total_count == 0
    again = ipam.book_ip(source=src, is_ipv6=False)
    assert again.address == "172.16.32.2/22", again.address
    ipam.release_ip(ip_id=again.id)

    # Delete the now empty Private Networks; the VPC calls see it.
    assert vpc_api.delete_private_network(private_network_id=pn.id) is None
    vpc_api.delete_private_network(private_network_id=pn2.id)
    expect_error(404, "not_found", vpc_api.get_private_network, private_network_id=pn.id)
    assert vpc_api.get_vpc(vpc_id=vpc.id).private_network_count == 0


def main():
    server = sys.argv[1]
    proc = subprocess.Popen(
        [server, "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        prefix = "listening on "
        assert line.startswith(prefix), f"unexpected first line from the server: {line!r}"
        api_url = "http://" + line[len(prefix):]
        run(api_url)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("the server did not stop on SIGTERM")
    assert code == 0, f"the server exited with {code}"
    print("python sdk test: ok")


if __name__ == "__main__":
    main()
