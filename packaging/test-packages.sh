#!/usr/bin/env bash
# The package round trip, as a .NET developer on a fresh machine would do it:
#   dotnet pack everything into a local folder feed; `dotnet tool install Sandbox2.Tool --add-source FEED` into a
#   temporary tool path and `sandbox2 run -- /bin/echo hi`, also with the binary copied alone elsewhere; then a fresh
#   console app (packaging/consumer) restored from the feed (a temporary NuGet.config: the feed + the normal source)
#   that runs a sandbox, built (dotnet run) and published single-file. --full adds a NativeAOT publish of the app.
# Prints "package round trip: ok" and exits 0, or names the failing step and exits 1.
# A unique prerelease version per run keeps the global NuGet cache from serving an older build; it is removed after.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
full=0; [ "${1:-}" = "--full" ] && full=1

version="0.1.0-local.$(date +%s).$$"
work=$(mktemp -d /tmp/sandbox2-packages.XXXXXX)
chmod 755 "$work"
feed="$work/feed"
cache="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
cleanup() {
  rm -rf "$work"
  for id in sandbox2 sandbox2.client sandbox2.tool sandbox2.tool.linux-x64; do rm -rf "$cache/$id/$version"; done
}
trap cleanup EXIT
step() { echo "== $*"; }
fail() { echo "package round trip: FAILED at: $*" >&2; exit 1; }

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
pack() { dotnet pack "$@" -c Release -p:Version="$version" -o "$feed" -nologo -v:q 2>&1 | grep -E "error|warn|Successfully created" || true; }

step "pack $version into $feed"
pack src/Sandbox2.Client/Sandbox2.Client.csproj
pack src/Sandbox2/Sandbox2.csproj
pack src/Sandbox2.Cli/Sandbox2.Cli.csproj               # Sandbox2.Tool: the pointer package
pack src/Sandbox2.Cli/Sandbox2.Cli.csproj -r linux-x64  # Sandbox2.Tool.linux-x64: the NativeAOT binary + forkserver
for p in Sandbox2 Sandbox2.Client Sandbox2.Tool Sandbox2.Tool.linux-x64; do
  [ -f "$feed/$p.$version.nupkg" ] || fail "dotnet pack did not produce $p.$version.nupkg"
done
for p in Sandbox2 Sandbox2.Client; do [ -f "$feed/$p.$version.snupkg" ] || fail "no symbol package for $p"; done
unzip -l "$feed/Sandbox2.$version.nupkg" | grep -q 'runtimes/linux-x64/native/sandbox2-forkserver' || fail "the Sandbox2 package lacks runtimes/linux-x64/native/sandbox2-forkserver"
for p in Sandbox2 Sandbox2.Client; do
  unzip -l "$feed/$p.$version.nupkg" | grep -q "lib/net10.0/$p.xml" || fail "the $p package lacks its XML documentation (lib/net10.0/$p.xml)"
done

step "dotnet tool install Sandbox2.Tool --tool-path (from the local feed)"
dotnet tool install Sandbox2.Tool --version "$version" --tool-path "$work/tools" --add-source "$feed" >/dev/null || fail "dotnet tool install"
out=$("$work/tools/sandbox2" run -- /bin/echo hi) || fail "installed sandbox2 run -- /bin/echo hi (exit $?)"
[ "$out" = "hi" ] || fail "installed sandbox2 printed '$out', not 'hi'"
echo "   sandbox2 run -- /bin/echo hi: $out"

step "the installed binary copied alone to another directory"
mkdir "$work/alone"
cp "$(readlink -f "$work/tools/sandbox2")" "$work/alone/sandbox2"
out=$(cd / && "$work/alone/sandbox2" run -- /bin/echo alone) || fail "copied-alone sandbox2 (exit $?)"
[ "$out" = "alone" ] || fail "copied-alone sandbox2 printed '$out'"
echo "   copied alone: $out (embedded forkserver)"

step "a fresh console app against the local feed"
app="$work/app"
cp -r packaging/consumer "$app"
cat > "$app/NuGet.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="local" value="$feed" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
  </packageSources>
</configuration>
XML
# Outside the repository: no Directory.Build.props of ours applies.
out=$(cd "$app" && dotnet run -c Release -p:Sandbox2Version="$version" 2>&1) || { echo "$out"; fail "dotnet run of the console app"; }
echo "$out" | sed 's/^/   /'
echo "$out" | grep -q "result: OK" || fail "the console app's sandbox did not end OK"
echo "$out" | grep -q "forkserver: /" || fail "the console app did not find the forkserver asset on disk"

step "the console app published single-file"
(cd "$app" && dotnet publish -c Release -r linux-x64 --self-contained false -p:PublishSingleFile=true -p:Sandbox2Version="$version" -o "$work/single" -nologo -v:q >/dev/null 2>&1) || fail "single-file publish"
out=$("$work/single/Consumer" 2>&1) || { echo "$out"; fail "single-file app"; }
echo "$out" | sed 's/^/   /'

if [ "$full" = 1 ]; then
  step "the console app published NativeAOT"
  (cd "$app" && dotnet publish -c Release -r linux-x64 -p:PublishAot=true -p:Sandbox2Version="$version" -o "$work/aot" -nologo -v:q >/dev/null 2>&1) || fail "NativeAOT publish"
  out=$("$work/aot/Consumer" 2>&1) || { echo "$out"; fail "NativeAOT app"; }
  echo "$out" | sed 's/^/   /'
fi
echo "package round trip: ok"
