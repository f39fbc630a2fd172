"""Fixtures of the firewall scenario: the containers' nft tables."""

import json

import pytest


class Table:
    """Table inet sixtunnel of one host, read with `nft -j`."""

    def __init__(self, host):
        self.host = host

    def exists(self):
        return self.host.run("nft list table inet sixtunnel").rc == 0

    def items(self):
        return json.loads(self.host.check_output("nft -j list table inet sixtunnel"))["nftables"]

    def chains(self):
        return {item["chain"]["name"] for item in self.items() if "chain" in item}

    def rules(self, chain):
        return [item["rule"] for item in self.items() if "rule" in item and item["rule"]["chain"] == chain]

    def set_elements(self, name):
        for item in self.items():
            if "set" in item and item["set"]["name"] == name:
                return set(item["set"].get("elem", []))
        raise AssertionError(f"no set {name} in table inet sixtunnel")

    def dports(self, chain):
        """Destination ports the chain's rules match, as (protocol, port)."""
        ports = set()
        for rule in self.rules(chain):
            for expr in rule["expr"]:
                left = expr.get("match", {}).get("left", {})
                if left.get("payload", {}).get("field") == "dport":
                    ports.add((left["payload"]["protocol"], expr["match"]["right"]))
        return ports

    def packets(self, chain, comment):
        """Packets counted by the rule with this comment."""
        for rule in self.rules(chain):
            if rule.get("comment") == comment:
                return next(expr["counter"]["packets"] for expr in rule["expr"] if "counter" in expr)
        raise AssertionError(f"no rule '{comment}' in chain {chain}")

    def total_packets(self, chain):
        return sum(
            expr["counter"]["packets"] for rule in self.rules(chain) for expr in rule["expr"] if "counter" in expr
        )


@pytest.fixture(scope="session")
def table(hosts):
    return lambda name: Table(hosts(name))
