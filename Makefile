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

# The ROS-free core's tests, run a second time under numpy 1 (scripts/setup.sh numpy1).
NUMPY1_PYTHON := $${SKELSPLAT_CACHE:-$$HOME/.cache/skelsplat_ros}/venv-numpy1/bin/python
CORE_TESTS := test/test_cameras.py test/test_skeletons.py test/test_triangulation.py \
	test/test_solver.py test/test_analytic_torch.py test/test_batch.py test/test_motion.py \
	test/test_multiperson.py test/test_render.py test/test_detect_onnx.py test/test_io.py \
	test/test_cli_solve.py test/test_live_faults.py test/test_sync.py test/test_imaging.py \
	test/test_solver_plausibility.py test/test_pacing.py test/test_human_model.py \
	test/test_smoothing.py

test: export ROS_DOMAIN_ID := 61
test: export SKELSPLAT_REQUIRE_DATA := 1
test: setup
	bash scripts/setup.sh numpy1
	$(ENV) && pytest test -q -ra --durations=10
	PYTHONPATH=$(CURDIR) $(NUMPY1_PYTHON) -m pytest $(CORE_TESTS) -q -ra

demo: export ROS_DOMAIN_ID := 62
demo: setup
	$(ENV) && skelsplat demo --output $(OUT)/demo

bench: export ROS_DOMAIN_ID := 63
bench: setup
	$(ENV) && python bench/accuracy.py --output bench/results

clean:
	rm -rf build install log $(OUT)
