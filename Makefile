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
MOLECULE_SCENARIOS ?= default export transports firewall routed lifecycle faults bad_inventory secrets install real_networks server_mode rotation

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

COLLECTION_SOURCES := galaxy.yml README.md CHANGELOG.md LICENSE requirements.txt $(shell find meta plugins roles playbooks docs LICENSES changelogs -type f -not -path '*/__pycache__/*')

.PHONY: help
help:
	@echo "make lab        podman lab: a gateway and two laptops, site.yml, tunnels shown working"
	@echo "make lab-clean  remove the lab's containers and network"
	@echo "make test       lint (ansible-test sanity too), unit tests, docs check, the Molecule scenarios ($(MOLECULE_SCENARIOS)) and default on the other platforms"
	@echo "make bench      benchmarks (not part of make test)"
	@echo "make changelog  regenerate CHANGELOG.md from changelogs/ (antsibull-changelog; make lint checks it)"

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
	tests/podman/build-image.sh $(CACHE) debian13 > $(CACHE)/image13-name
	tests/podman/build-image.sh $(CACHE) debian13-openvpn27 > $(CACHE)/image27-name

.PHONY: lint
lint: collection sanity
	yamllint --strict .
	ansible-lint
	ruff check .
	ruff format --check .
	antsibull-changelog lint
	antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
	$(render_changelog)
	git diff --no-index --exit-code CHANGELOG.md $(CHANGELOG_WORK)/CHANGELOG.md || { echo 'CHANGELOG.md is out of date: make changelog'; exit 1; }

# CHANGELOG.md is generated from changelogs/ (changelogs/config.yaml says how): antsibull-changelog renders it in a
# scratch copy, where the fragments not released yet become the version in galaxy.yml, marked "(unreleased)".
# The copy is inside the git checkout but untracked: antsibull-changelog must read its plugins as files (vcs: none).
CHANGELOG_WORK := $(CACHE)/changelog
define render_changelog
rm -rf $(CHANGELOG_WORK) && mkdir -p $(CHANGELOG_WORK)
cp -r galaxy.yml changelogs meta plugins roles playbooks $(CHANGELOG_WORK)/
sed -i 's/^vcs: .*/vcs: none/' $(CHANGELOG_WORK)/changelogs/config.yaml
cd $(CHANGELOG_WORK) && if compgen -G 'changelogs/fragments/*.yml' >/dev/null; then \
  version=$$(sed -n 's/^version: *//p' galaxy.yml); \
  if grep -qxF "  $$version:" changelogs/changelog.yaml; then \
    echo "changelogs/fragments: galaxy.yml's version $$version is released already; raise it"; exit 1; \
  fi; \
  antsibull-changelog release && sed -i '0,/^## v/s/^## v.*/& (unreleased)/' CHANGELOG.md; \
else \
  antsibull-changelog generate; \
fi
endef

.PHONY: changelog
changelog: $(VENV)/.stamp
	$(render_changelog)
	cp $(CHANGELOG_WORK)/CHANGELOG.md CHANGELOG.md

.PHONY: unit
unit: collection
	pytest tests/unit

# ansible-test needs the collection at a path ending in ansible_collections/sixtunnel/openvpn: it runs in a fresh
# copy of the files git knows (tracked, less those deleted, and untracked but not ignored). The copy is inside this
# checkout, but git ignores .cache, so ansible-test is told where its content root is; finding this checkout's .git
# above it, it would ask git for the copy's files and get none.
define ansible_test_copy
rm -rf $(1) && mkdir -p $(1)
git ls-files -z --cached --others --exclude-standard | grep -zvxFf <(git -c core.quotePath=off ls-files --deleted) \
  | tar --null -T - -cf - | tar -C $(1) -xf -
endef
SANITY := $(CACHE)/sanity/ansible_collections/sixtunnel/openvpn
ANSIBLE_TEST_UNITS := $(CACHE)/units/ansible_collections/sixtunnel/openvpn

# ansible-test sanity installs each test's tools (pylint, yamllint, voluptuous, ...), pinned by ansible-test, into a
# virtualenv of its own under ~/.ansible/test/venv, made once. It makes them without pip and downloads pip's
# bootstrap script from ci-files.testing.ansible.com, which is not reachable here, unless its cache holds one:
# tests/sanity/get_pip.py stands in (pip 24.2 is the version ansible-core 2.19's ansible-test asks for).
ANSIBLE_TEST_GET_PIP := $(HOME)/.ansible/test/cache/get_pip_24_2.py
$(ANSIBLE_TEST_GET_PIP): tests/sanity/get_pip.py
	install -D -m 0644 $< $@

# Every sanity test of ansible-core 2.19; exceptions, each with its reason, in tests/sanity/ignore-2.19.txt.
.PHONY: sanity
sanity: $(VENV)/.stamp $(ANSIBLE_TEST_GET_PIP)
	$(call ansible_test_copy,$(SANITY))
	cd $(SANITY) && ANSIBLE_TEST_CONTENT_ROOT=$(SANITY) ansible-test sanity --python 3.11 --color no

# The unit tests as ansible-test runs them (each test forked, the modules' tests with only module_utils of Ansible);
# `make unit` runs the same tests with plain pytest from the checkout.
.PHONY: ansible-test-units
ansible-test-units: $(VENV)/.stamp
	$(call ansible_test_copy,$(ANSIBLE_TEST_UNITS))
	cd $(ANSIBLE_TEST_UNITS) && ANSIBLE_TEST_CONTENT_ROOT=$(ANSIBLE_TEST_UNITS) ansible-test units --python 3.11 --color no

# The filters' and module's docs print from the installed collection.
.PHONY: docs-check
docs-check: collection
	for plugin in filter:tunnel_prefix filter:tunnel_plan module:tunnel_keys module:tunnel_keys_info module:tunnel_files module:tunnel_files_write module:tunnel_units module:tunnel_preflight module:tunnel_ready module:tunnel_sessions module:tunnel_status module:ipv6_forwarding; do \
	  ansible-doc -t $${plugin%%:*} sixtunnel.openvpn.$${plugin#*:} | grep -q EXAMPLES || { echo "no docs for $$plugin"; exit 1; }; \
	done

.PHONY: molecule
molecule: collection image
	for scenario in $(MOLECULE_SCENARIOS); do \
	  SIXTUNNEL_IMAGE=$$(cat $(CACHE)/image-name) SIXTUNNEL_IMAGE_27=$$(cat $(CACHE)/image27-name) \
	    molecule test -s $$scenario || exit 1; \
	done

# Scenario default again on each other platform, and on mixed pairs: GATEWAY_IMAGE/LAPTOP_IMAGE (image-name: Debian 12
# with OpenVPN 2.6, image13-name: Debian 13 with 2.6, image27-name: Debian 13 with 2.7 from backports).
PLATFORM_RUNS ?= image13-name/image13-name image27-name/image27-name image-name/image27-name image27-name/image-name
.PHONY: molecule-platforms
molecule-platforms: collection image
	for run in $(PLATFORM_RUNS); do \
	  echo "== scenario default, gateway $$(cat $(CACHE)/$${run%/*}), laptops $$(cat $(CACHE)/$${run#*/})"; \
	  SIXTUNNEL_IMAGE=$$(cat $(CACHE)/image-name) SIXTUNNEL_IMAGE_27=$$(cat $(CACHE)/image27-name) \
	  SIXTUNNEL_GATEWAY_IMAGE=$$(cat $(CACHE)/$${run%/*}) SIXTUNNEL_LAPTOP_IMAGE=$$(cat $(CACHE)/$${run#*/}) \
	    molecule test -s default || exit 1; \
	done

.PHONY: test
test: lint unit ansible-test-units docs-check molecule molecule-platforms

.PHONY: lab
lab: collection image
	SIXTUNNEL_IMAGE=$$(cat $(CACHE)/image-name) tests/podman/lab.sh up

.PHONY: lab-clean
lab-clean:
	tests/podman/lab.sh down

$(VENV)/.bench.stamp: requirements/bench.txt $(VENV)/.stamp
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/bench.txt
	touch $@

# Tunnel throughput and CPU per profile, gateway run time against laptops, server mode against p2p mode (run time,
# memory with 100 live laptops), planner time, in one run (45 to 80 minutes on 2 cores); writes docs/benchmarks.md
# and docs/benchmarks.png. It measures a collection copy of its own, so a `make test` in the same checkout cannot
# change the code under a running measurement.
BENCH := $(CACHE)/bench
.PHONY: bench
bench: image $(VENV)/.bench.stamp
	rm -rf $(BENCH)/dist $(BENCH)/collections && mkdir -p $(BENCH)/dist
	ansible-galaxy collection build --force --output-path $(BENCH)/dist .
	export ANSIBLE_COLLECTIONS_PATH=$(BENCH)/collections SIXTUNNEL_IMAGE=$$(cat $(CACHE)/image-name) \
	    SIXTUNNEL_IMAGE_27=$$(cat $(CACHE)/image27-name); \
	  ansible-galaxy collection install --force --no-deps -p $(BENCH)/collections $(BENCH)/dist/sixtunnel-openvpn-*.tar.gz; \
	  python benchmarks/bench_dataplane.py --out $(BENCH); \
	  python benchmarks/bench_controlplane.py --out $(BENCH); \
	  python benchmarks/bench_servermode.py --out $(BENCH)
	python benchmarks/bench_planner.py --json > $(BENCH)/planner.json
	python benchmarks/report.py --results $(BENCH) --markdown docs/benchmarks.md --plot docs/benchmarks.png
