"""Drive the simulated Hetzner API with python3-hcloud; print a JSON report for the Rust test.

Usage: /usr/bin/python3 hcloud_py.py ENDPOINT TOKEN FQDN
"""
import json
import sys

from hcloud import Client
from hcloud.firewalls.domain import FirewallResource, FirewallResourceLabelSelector, FirewallRule
from hcloud.images.domain import Image
from hcloud.load_balancers.domain import (
    LoadBalancerHealthCheck,
    LoadBalancerService,
    LoadBalancerTarget,
)
from hcloud.locations.domain import Location
from hcloud.networks.domain import NetworkSubnet
from hcloud.server_types.domain import ServerType

endpoint, token, fqdn = sys.argv[1:4]
slug = fqdn.replace(".", "-")
label = {"catalyst.openova.io/sovereign": fqdn}
client = Client(token=token, api_endpoint=endpoint, poll_interval=0.05)

report = {}
cx42 = client.server_types.get_by_name("cx42")
report["cx42_monthly_net"] = cx42.prices[0]["price_monthly"]["net"]
report["locations"] = sorted(loc.name for loc in client.locations.get_all())

network = client.networks.create(
    name=f"catalyst-{slug}-net",
    ip_range="10.0.0.0/16",
    subnets=[NetworkSubnet(ip_range="10.0.1.0/24", network_zone="eu-central", type="cloud")],
    labels=label,
)
for i in range(2):
    client.networks.create(name=f"extra-{i}", ip_range="10.1.0.0/16")
# get_all pages through with per_page=50; force small pages to exercise meta.pagination.
page = client.networks.get_list(page=1, per_page=2)
report["networks_paged"] = page.meta.pagination.total_entries

firewall = client.firewalls.create(
    name=f"catalyst-{slug}-fw",
    rules=[FirewallRule(direction="in", protocol="tcp", port="443", source_ips=["0.0.0.0/0", "::/0"])],
    labels=label,
).firewall

created = client.servers.create(
    name=f"catalyst-{slug}-cp1",
    server_type=ServerType(name="cx42"),
    image=Image(name="ubuntu-24.04"),
    location=Location(name="fsn1"),
    networks=[network],
    firewalls=[firewall],
    labels=dict(label, **{"catalyst.openova.io/role": "control-plane"}),
)
created.action.wait_until_finished(max_retries=500)
report["action_status"] = client.actions.get_by_id(created.action.id).status
for action in created.next_actions:
    action.wait_until_finished(max_retries=500)

selector = f"catalyst.openova.io/sovereign={fqdn}"
servers = client.servers.get_all(label_selector=selector)
report["servers_by_label"] = [s.name for s in servers]
server = client.servers.get_by_id(created.server.id)
report["server_status"] = server.status
report["private_ip"] = server.private_net[0].ip
report["primary_ip_names"] = [ip.name for ip in client.primary_ips.get_all()]

lb = client.load_balancers.create(
    name=f"catalyst-{slug}-lb",
    load_balancer_type=client.load_balancer_types.get_by_name("lb11"),
    location=Location(name="fsn1"),
    labels=label,
)
report["load_balancers"] = [b.name for b in client.load_balancers.get_all(label_selector=selector)]
bound_lb = client.load_balancers.get_by_id(lb.load_balancer.id)
bound_lb.attach_to_network(network).wait_until_finished(max_retries=500)
bound_lb.add_target(
    LoadBalancerTarget(type="server", server=server, use_private_ip=True)
).wait_until_finished(max_retries=500)
bound_lb.add_service(
    LoadBalancerService(
        protocol="tcp",
        listen_port=443,
        destination_port=31443,
        proxyprotocol=False,
        health_check=LoadBalancerHealthCheck(
            protocol="tcp", port=31443, interval=15, timeout=10, retries=3
        ),
    )
).wait_until_finished(max_retries=500)
bound_lb = client.load_balancers.get_by_id(bound_lb.id)
report["lb_target_server"] = bound_lb.targets[0].server.id == server.id
report["lb_services"] = [s.destination_port for s in bound_lb.services]

for action in firewall.apply_to_resources(
    [FirewallResource(type="label_selector", label_selector=FirewallResourceLabelSelector(selector=selector))]
):
    action.wait_until_finished(max_retries=500)
applied = client.firewalls.get_by_id(firewall.id).applied_to
report["firewall_applied_types"] = sorted(r.type for r in applied)

volume = client.volumes.create(size=10, name=f"catalyst-{slug}-data", location=Location(name="fsn1"), labels=label)
volume.action.wait_until_finished(max_retries=500)
report["volume_status"] = client.volumes.get_by_id(volume.volume.id).status
floating = client.floating_ips.create(type="ipv4", home_location=Location(name="fsn1"), name=f"catalyst-{slug}-fip")
floating.floating_ip.assign(server).wait_until_finished(max_retries=500)
report["floating_ip_server"] = client.floating_ips.get_by_id(floating.floating_ip.id).server.id == server.id

# Every resource the world serves, read through the client's models (a current hcloud refuses a
# response that lacks a field the real API always sends): list, then each one by id.
ssh_key = client.ssh_keys.create(name=f"catalyst-{slug}-key", public_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKvoALhN78SNXeQTmwlEdINMMoav/Q1aoegXcyvAPcGg sovtui-conformance")
readable = {}
for name in ["actions", "datacenters", "firewalls", "floating_ips", "images", "load_balancer_types",
             "load_balancers", "locations", "networks", "primary_ips", "server_types", "servers",
             "ssh_keys", "volumes"]:
    resource = getattr(client, name)
    try:
        items = resource.get_all()
        for item in items[:20]:
            resource.get_by_id(item.id)
        readable[name] = len(items)
    except Exception as e:  # reported, and the Rust test names it
        readable[name] = "FAIL " + repr(e)[:400]
if hasattr(client, "pricing"):  # python3-hcloud 1.18 has no pricing client
    readable["pricing"] = len(client.pricing.get().server_types)
report["readable"] = readable

client.servers.delete(server)
report["after_delete_listed"] = any(s.id == server.id for s in client.servers.get_all())

print(json.dumps(report))
