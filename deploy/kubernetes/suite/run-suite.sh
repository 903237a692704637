#!/bin/sh
# The controller Job's command (deploy/kubernetes/controller.yaml): runs the suite, then keeps
# the pod, and its output, for KEEP_OUTPUT_S seconds so that a user can copy it:
#   kubectl -n loadtest cp <pod>:/output ./output -c controller
#   kubectl -n loadtest exec <pod> -c controller -- touch /output/.copied   # done: end now
# and exits with Robot's exit code (0: every test passed), which the Job reports.
# tests/agents/test_dns_agents_netns.py runs this file with the manifests' environment.
set -u
output=${OUTPUT_DIR:-/output}
suite=${SUITE:-/suite/agents_on_kubernetes.robot}
keep=${KEEP_OUTPUT_S:-1800}
python -m robot --outputdir "$output" --consolecolors off --consolemarkers off \
  --name "${SUITE_NAME:-Agents On Kubernetes}" "$suite"
code=$?
echo "robot exit code $code; log.html, report.html, output.xml and load-results/ in $output"
echo "kept for ${keep} s: kubectl cp <namespace>/${POD_NAME:-<pod>}:$output ./output -c controller"
waited=0
while [ "$waited" -lt "$keep" ] && [ ! -e "$output/.copied" ]; do
  sleep 1
  waited=$((waited + 1))
done
exit "$code"
