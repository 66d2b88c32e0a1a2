#!/usr/bin/env bash
# Packs what run-gpu.sh needs on a GPU machine without Java or Maven into one folder (about 45 MB):
#
#   benchmarks/make-gpu-bundle.sh DIR       # then, there: DIR/run.sh   (OUT=... optional)
#
# DIR/jre            a jlink runtime of this JDK: java.base, jdk.unsupported, java.management
#                    (JMH needs java.lang.management), stripped
# DIR/benchmarks.jar benchmarks/target/benchmarks.jar without what the GPU run never loads:
#                    OpenCV, OpenBLAS, FFmpeg natives and classes, and the CUDA preset's natives
#                    other than libjnicudart.so
# DIR/benchmarks/    run-gpu.sh, summarize.py, pytorch/*.py
# DIR/run.sh         JAVA=DIR/jre/bin/java BENCH_JAR=DIR/benchmarks.jar DIR/benchmarks/run-gpu.sh
# Build the jar first (mvn -B -q package -DskipTests).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:?usage: benchmarks/make-gpu-bundle.sh DIR}
JAR=benchmarks/target/benchmarks.jar
[[ -f $JAR ]] || { echo "make-gpu-bundle: $JAR missing: run mvn -B -q package -DskipTests first" >&2; exit 1; }
rm -rf "$DIR"
mkdir -p "$DIR/benchmarks/pytorch"
jlink --add-modules java.base,jdk.unsupported,java.management --strip-debug --no-header-files --no-man-pages \
  --compress=2 --output "$DIR/jre"
cp "$JAR" "$DIR/benchmarks.jar"
zip -q -d "$DIR/benchmarks.jar" 'org/bytedeco/opencv/*' 'org/bytedeco/openblas/*' 'org/bytedeco/ffmpeg/*' \
  'org/opencv/*' 'META-INF/native-image/*' >/dev/null || true
mapfile -t extra < <(unzip -Z1 "$DIR/benchmarks.jar" 'org/bytedeco/cuda/linux-x86_64/*' | grep -v '/libjnicudart\.so$' || true)
if ((${#extra[@]})); then zip -q -d "$DIR/benchmarks.jar" "${extra[@]}" >/dev/null; fi
cp benchmarks/run-gpu.sh benchmarks/summarize.py "$DIR/benchmarks/"
cp benchmarks/pytorch/*.py "$DIR/benchmarks/pytorch/"
cat >"$DIR/run.sh" <<'SH'
#!/usr/bin/env bash
# Runs the GPU benchmark suite from this bundle (see benchmarks/run-gpu.sh).
set -euo pipefail
D=$(cd "$(dirname "$0")" && pwd)
JAVA="$D/jre/bin/java" BENCH_JAR="$D/benchmarks.jar" exec "$D/benchmarks/run-gpu.sh" "$@"
SH
chmod +x "$DIR/run.sh" "$DIR/benchmarks/run-gpu.sh"
du -sh "$DIR" "$DIR/jre" "$DIR/benchmarks.jar"
