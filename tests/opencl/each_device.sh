#!/bin/sh
# tests/opencl/each_device.sh PROBE PLUGIN.so TEST [ARGS...]: runs the test executable once per
# OpenCL device the plugin sees (PROBE --count PLUGIN.so), with VITCL_TEST_DEVICE and
# VITCL_DEVICE set to the device's index, or only on the device VITCL_TEST_DEVICE already names.
# Fails when any run fails or when there is no device at all; says which device each run is on.
probe=$1 plugin=$2
shift 2
if [ -n "${VITCL_TEST_DEVICE:-}" ]; then
  devices=$VITCL_TEST_DEVICE
else
  n=$("$probe" --count "$plugin") || { echo "each_device: $probe --count failed" >&2; exit 1; }
  if [ "$n" -lt 1 ]; then
    echo "each_device: the OpenCL plugin sees no device (is an OpenCL runtime such as PoCL installed?)" >&2
    exit 1
  fi
  devices=$(seq 0 $((n - 1)))
fi
rc=0
for d in $devices; do
  echo "== OpenCL device $d: $(basename "$1")"
  VITCL_TEST_DEVICE=$d VITCL_DEVICE=$d "$@" || { echo "== FAILED on OpenCL device $d"; rc=1; }
done
exit $rc
