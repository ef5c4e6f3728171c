# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
#
# make demo  - set up, then run the main job on the bundled pose2sim trial
# make test  - set up, then run the whole test suite
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c

# Every ROS process started from here stays on loopback, each target in its own DDS domain.
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
ENV := source scripts/env.sh
OUT ?= out

.PHONY: setup test demo bench clean

setup:
	bash scripts/setup.sh

test: export ROS_DOMAIN_ID := 61
test: setup
	$(ENV) && pytest test -q -ra --durations=10

demo: export ROS_DOMAIN_ID := 62
demo: setup
	$(ENV) && skelsplat demo --output $(OUT)/demo

bench: export ROS_DOMAIN_ID := 63
bench: setup
	$(ENV) && python bench/accuracy.py --output bench/results

clean:
	rm -rf build install log $(OUT)
