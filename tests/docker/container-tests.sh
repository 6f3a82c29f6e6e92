#!/usr/bin/env bash
# Container tests (issue 12): the published NativeAOT tool inside a real Docker container with Docker's defaults
# (its seccomp profile, no CAP_SYS_ADMIN), as root and as --user 1000. The image is made with `docker import` from a
# tarball of empty directories (nothing is pulled); the host's /usr, /bin, /lib, /lib64 and the tool are bound read-only.
# Prints "PASS name" / "FAIL name" lines and a final "N passed, N failed"; exit 0 when all passed.
# Usage: tests/docker/container-tests.sh PUBLISH_DIR TESTCASES_DIR
set -uo pipefail
publish=$(realpath "$1"); testcases=$(realpath "$2")
passed=0; failed=0
work=$(mktemp -d /tmp/sandbox2-docker.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root"/{usr,bin,lib,lib64,opt/sandbox2,opt/testcases,tmp,proc,dev,sys,etc,data,var/tmp}
chmod 1777 "$work/root/tmp" "$work/root/var/tmp"
echo "container-secret" > "$work/root/etc/secret"; chmod 644 "$work/root/etc/secret"
printf 'b\na\nc\n' > "$work/in.txt"; chmod 644 "$work/in.txt"; chmod 755 "$work"
tar -C "$work/root" -cf "$work/image.tar" .
image=sandbox2-test:empty
docker import "$work/image.tar" "$image" >/dev/null || { echo "FAIL docker import"; echo "0 passed, 1 failed"; exit 1; }

check() { # NAME EXPECTED-REGEX OUTPUT
  if grep -Eq -- "$2" <<<"$3"; then passed=$((passed + 1)); echo "PASS $1"
  else failed=$((failed + 1)); echo "FAIL $1 (expected /$2/)"; sed 's/^/    | /' <<<"$3" | head -20; fi
}

for user in 0 1000; do
  docker_run=(docker run --rm --user "$user" -v /usr:/usr:ro -v /bin:/bin:ro -v /lib:/lib:ro -v /lib64:/lib64:ro
              -v "$publish:/opt/sandbox2:ro" -v "$testcases:/opt/testcases:ro" -v "$work/in.txt:/data/in.txt:ro"
              --tmpfs /data/rw:mode=1777 "$image")
  s2=/opt/sandbox2/sandbox2
  nons="$s2 run --isolation no-namespaces"
  out=$("${docker_run[@]}" /bin/sh -c "$s2 run -- /bin/true; echo exit=\$?" 2>&1)
  check "$user: run names the blocker, doctor and --isolation no-namespaces (exit 125)" \
    "exit=125" "$out"
  check "$user: the message names user namespaces" "user namespaces.*sandbox2 doctor.*--isolation no-namespaces" "$out"
  out=$("${docker_run[@]}" /bin/sh -c "$s2 doctor; echo exit=\$?" 2>&1)
  check "$user: doctor exits 1 naming user namespaces, no-namespaces ready" \
    "MISSING  user namespaces" "$out"
  check "$user: doctor says no-namespaces is ready" "no-namespaces: ready.*" "$out"
  out=$("${docker_run[@]}" /bin/sh -c "$nons --ro-bind /usr/share/doc -- /bin/ls /usr/share/doc; echo exit=\$?" 2>&1)
  check "$user: ls works with --isolation no-namespaces" "(^|\n)bash" "$out"
  out=$("${docker_run[@]}" /bin/sh -c "$nons --ro-bind /data/in.txt -- /usr/bin/sort /data/in.txt; echo exit=\$?" 2>&1)
  check "$user: sort on a bound file" "^a$" "$(head -1 <<<"$out")"
  out=$("${docker_run[@]}" /bin/sh -c "$nons --ro-bind /usr/lib/python3.11 -- /usr/bin/python3 -c 'print(6*7)'; echo exit=\$?" 2>&1)
  check "$user: python3 works" "^42$" "$out"
  out=$("${docker_run[@]}" /bin/sh -c "cat /etc/secret; $nons -- /bin/cat /etc/secret; echo exit=\$?" 2>&1)
  check "$user: an ungranted container file cannot be read" "/etc/secret: Permission denied" "$out"
  out=$("${docker_run[@]}" /bin/sh -c "$nons --bind /data/rw -- /usr/bin/touch /data/rw/ok /var/tmp/outside; echo exit=\$?; ls /data/rw /var/tmp" 2>&1)
  check "$user: writing outside the read-write paths fails" "/var/tmp/outside': Permission denied" "$out"
  check "$user: writing inside the read-write path works" "(^|\n)ok" "$out"
  out=$("${docker_run[@]}" /bin/sh -c "$nons --result - -- /opt/testcases/cli_syscall 101; echo exit=\$?" 2>&1)
  check "$user: a forbidden syscall is still a VIOLATION (exit 159)" "exit=159" "$out"
  check "$user: the violation names ptrace" "\"syscall\": \"ptrace\"" "$out"
  out=$("${docker_run[@]}" /bin/sh -c "$nons --result - -- /bin/true" 2>&1)
  check "$user: the result says no-namespaces" "\"level\": \"no-namespaces\"" "$out"
  check "$user: the result gives the Landlock ABI" "\"landlock\": [1-9]" "$out"
  check "$user: the weaker isolation is said on stderr" "warning: ran with --isolation no-namespaces: weaker" "$out"
done
docker image rm "$image" >/dev/null 2>&1
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
