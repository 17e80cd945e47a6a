"""Services and EndpointSlices -> the proxy's table (pure functions)."""

from hyperkube.proxy.table import Endpoint, ServicePortName, endpoints_by_port, service_ports


def svc(name, spec, status=None):
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": spec, "status": status or {}}


def test_service_ports_cluster_ip_node_port_affinity():
    table = service_ports([
        svc("web", {"type": "NodePort", "clusterIP": "127.64.0.9", "sessionAffinity": "ClientIP",
                    "ports": [{"name": "http", "port": 80, "nodePort": 30080},
                              {"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 30053},
                              {"name": "sctp", "port": 9, "protocol": "SCTP"}]}),
        svc("headless", {"clusterIP": "None", "ports": [{"port": 80}]}),
        svc("ext", {"type": "ExternalName", "externalName": "example.com"}),
        svc("plain", {"clusterIP": "127.64.0.10", "externalIPs": ["127.9.9.9"], "ports": [{"port": 81}],
                      "sessionAffinity": "ClientIP",
                      "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}}}),
    ])
    assert set(table) == {ServicePortName("ns", "web", "http"), ServicePortName("ns", "web", "dns"),
                          ServicePortName("ns", "plain", "")}
    http = table[ServicePortName("ns", "web", "http")]
    assert (http.protocol, http.port, http.cluster_ip, http.node_port, http.affinity_timeout) == \
        ("TCP", 80, "127.64.0.9", 30080, 10800.0)
    assert table[ServicePortName("ns", "web", "dns")].protocol == "UDP"
    plain = table[ServicePortName("ns", "plain", "")]
    assert plain.node_port is None and plain.external_ips == ("127.9.9.9",) and plain.affinity_timeout == 5.0


def test_endpoints_ready_only_joined_by_label_and_port_name_across_slices():
    def eps(name, endpoints, ports):
        return {"metadata": {"name": name, "namespace": "ns", "labels": {"kubernetes.io/service-name": "web"}},
                "addressType": "IPv4", "endpoints": endpoints, "ports": ports}

    table = endpoints_by_port([
        eps("a", [{"addresses": ["10.0.0.2"], "conditions": {"ready": True}},
                  {"addresses": ["10.0.0.3"], "conditions": {"ready": False}},
                  {"addresses": ["10.0.0.1"]}],
            [{"name": "http", "port": 8080}]),
        eps("b", [{"addresses": ["10.0.0.4"], "conditions": {"ready": True, "terminating": True}},
                  {"addresses": ["10.0.0.2"], "conditions": {"ready": True}}],
            [{"name": "http", "port": 8080}]),
        {"metadata": {"name": "orphan", "namespace": "ns"}, "endpoints": [{"addresses": ["1.1.1.1"]}],
         "ports": [{"port": 1}]},
    ])
    assert table == {ServicePortName("ns", "web", "http"): [Endpoint("10.0.0.1", 8080), Endpoint("10.0.0.2", 8080)]}
