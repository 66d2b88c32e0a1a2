#!/usr/bin/env bash
# GPU checks of the SupCon / cross-entropy work, in one run (the lead's GPU machine). From the
# repository root of a tree built with nvcc present (`mvn -B -q package -DskipTests`), with a
# Java runtime on PATH and the CUDA libraries on LD_LIBRARY_PATH. Prints everything; exits
# non-zero if a check fails. Timings are for benchmarks/RESULTS.md.
set -uo pipefail
rc=0
echo "== native parity (CPU vs CUDA, all paths; CoMix shape = 1 launch)"
ctest --test-dir java/target/native/build -R 'cuda_supcon|supcon_cpu' --output-on-failure || rc=1
echo "== JUnit, GPU-gated"
(cd java && mvn -B -q surefire:test -Dcomix.test.gpu=true -Dtest='SupConCudaTest,SupConLossTest,SupConFixtureTest' \
   -Dsurefire.failIfNoSpecifiedTests=false) || rc=1
grep -h "Tests run" java/target/surefire-reports/*SupCon*.txt 2>/dev/null
echo "== CLI on CUDA vs the PyTorch fixture"
F=java/src/test/resources/dev/comix/loss/supcon-fixture
java -jar java/target/comix.jar op supcon --device cuda --features $F/tpl_masked_features.npy \
  --labels $F/tpl_masked_labels.npy --mask $F/tpl_masked_mask.npy --grad /tmp/supcon_cuda_grad.npy || rc=1
grep -o '"loss": [^,}]*' $F/tpl_masked.json
echo "== PyTorch eager baseline (fp32, CUDA events)"
python3 benchmarks/pytorch/supcon_baseline.py --device cuda
echo "== comix JMH, same machine"
java -jar benchmarks/target/benchmarks.jar SupConBench -p device=cuda -p tf32=false,true \
  -p shape=16x2x12,1024x2x128,4096x2x128,4096x2x512,16384x2x128,16384x2x512 -wi 2 -w 1 -i 3 -r 2 -f 1
exit $rc
