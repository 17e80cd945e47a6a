"""Cluster DNS, the successor of kube-dns (SkyDNS fed by kube2sky): a DNS server on asyncio for
the cluster domain, fed from the API by informers, forwarding other names upstream.

Public surface::

    DNSServer, DNSConfig       the server (server.py): ``await DNSServer(client, DNSConfig(...)).start()``
    Zone, build_zone           the records and lookup rules (zone.py), pure
    parse_resolv_conf, host_upstreams, parse_upstream, Forwarder   upstreams (forward.py)
    publish_service            the kube-system/kube-dns Service and Endpoints (publish.py)

Used by ``hyperkube dns`` (hyperkube/cli/dns.py) and in process by ``hyperkube up``.
"""

from hyperkube.addons.dns.forward import Forwarder, host_upstreams, parse_resolv_conf, parse_upstream
from hyperkube.addons.dns.publish import publish_service
from hyperkube.addons.dns.server import DNSConfig, DNSServer
from hyperkube.addons.dns.zone import Zone, build_zone

__all__ = ["DNSConfig", "DNSServer", "Forwarder", "Zone", "build_zone", "host_upstreams", "parse_resolv_conf",
           "parse_upstream", "publish_service"]
