# Two commands do all set-up on a fresh Debian 12 machine (as root): `make lab` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
CACHE := $(CURDIR)/.cache
COLLECTION := $(CURDIR)/collections/ansible_collections/sixtunnel/openvpn
PYTHON ?= python3
# Every scenario, one after another on one image (docs/guarantees.md says what each proves).
# One alone: `make molecule MOLECULE_SCENARIOS=NAME`.
MOLECULE_SCENARIOS ?= default export transports firewall routed lifecycle faults bad_inventory secrets real_networks

export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/collections
export ANSIBLE_FORCE_COLOR := false
export PY_COLORS := 0
# This host's podman quirks (runc on cgroups v1, low nofile limit), if it has any.
CONTAINERS_CONF_FILE := $(shell tests/podman/containers-conf.sh $(CACHE))
ifneq ($(CONTAINERS_CONF_FILE),)
export CONTAINERS_CONF := $(CONTAINERS_CONF_FILE)
endif

COLLECTION_SOURCES := galaxy.yml README.md CHANGELOG.md $(shell find meta plugins roles playbooks docs -type f -not -path '*/__pycache__/*')

.PHONY: help
help:
	@echo "make lab        podman lab: a gateway and two laptops, site.yml, tunnels shown working"
	@echo "make lab-clean  remove the lab's containers and network"
	@echo "make test       lint, unit tests, docs check and the Molecule scenarios ($(MOLECULE_SCENARIOS))"
	@echo "make bench      benchmarks (not part of make test)"

$(CACHE)/host.stamp: tests/podman/host-setup.sh
	tests/podman/host-setup.sh
	@mkdir -p $(CACHE) && touch $@

$(VENV)/.stamp: requirements/test.txt $(CACHE)/host.stamp
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/test.txt
	touch $@

.PHONY: venv
venv: $(VENV)/.stamp

# The tests run against the collection as a user gets it: built, then installed from the tarball.
$(COLLECTION)/MANIFEST.json: $(VENV)/.stamp $(COLLECTION_SOURCES)
	rm -rf $(CACHE)/dist && mkdir -p $(CACHE)/dist
	ansible-galaxy collection build --force --output-path $(CACHE)/dist .
	ansible-galaxy collection install --force --no-deps -p $(CURDIR)/collections $(CACHE)/dist/sixtunnel-openvpn-*.tar.gz

.PHONY: collection
collection: $(COLLECTION)/MANIFEST.json

.PHONY: image
image: $(CACHE)/host.stamp
	tests/podman/build-image.sh $(CACHE) > $(CACHE)/image-name
	tests/podman/build-image.sh $(CACHE) openvpn27 > $(CACHE)/image27-name

.PHONY: lint
lint: collection
	yamllint --strict .
	ansible-lint
	ruff check .
	ruff format --check .

.PHONY: unit
unit: collection
	pytest tests/unit

# The filters' and module's docs print from the installed collection.
.PHONY: docs-check
docs-check: collection
	for plugin in filter:tunnel_prefix filter:tunnel_plan module:tunnel_keys module:tunnel_files module:tunnel_units module:tunnel_preflight module:tunnel_ready module:ipv6_forwarding; do \
	  ansible-doc -t $${plugin%%:*} sixtunnel.openvpn.$${plugin#*:} | grep -q EXAMPLES || { echo "no docs for $$plugin"; exit 1; }; \
	done

.PHONY: molecule
molecule: collection image
	for scenario in $(MOLECULE_SCENARIOS); do \
	  SIXTUNNEL_IMAGE=$$(cat $(CACHE)/image-name) SIXTUNNEL_IMAGE_27=$$(cat $(CACHE)/image27-name) \
	    molecule test -s $$scenario || exit 1; \
	done

.PHONY: test
test: lint unit docs-check molecule

.PHONY: lab
lab: collection image
	SIXTUNNEL_IMAGE=$$(cat $(CACHE)/image-name) tests/podman/lab.sh up

.PHONY: lab-clean
lab-clean:
	tests/podman/lab.sh down

$(VENV)/.bench.stamp: requirements/bench.txt $(VENV)/.stamp
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/bench.txt
	touch $@

# Tunnel throughput and CPU per profile, gateway run time against laptops, planner time, in one run (30 to 60
# minutes on 2 cores); writes docs/benchmarks.md and docs/benchmarks.png. It measures a collection copy of its
# own, so a `make test` in the same checkout cannot change the code under a running measurement.
BENCH := $(CACHE)/bench
.PHONY: bench
bench: image $(VENV)/.bench.stamp
	rm -rf $(BENCH)/dist $(BENCH)/collections && mkdir -p $(BENCH)/dist
	ansible-galaxy collection build --force --output-path $(BENCH)/dist .
	export ANSIBLE_COLLECTIONS_PATH=$(BENCH)/collections SIXTUNNEL_IMAGE=$$(cat $(CACHE)/image-name); \
	  ansible-galaxy collection install --force --no-deps -p $(BENCH)/collections $(BENCH)/dist/sixtunnel-openvpn-*.tar.gz; \
	  python benchmarks/bench_dataplane.py --out $(BENCH); \
	  python benchmarks/bench_controlplane.py --out $(BENCH)
	python benchmarks/bench_planner.py --json > $(BENCH)/planner.json
	python benchmarks/report.py --results $(BENCH) --markdown docs/benchmarks.md --plot docs/benchmarks.png
