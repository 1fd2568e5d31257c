#!/bin/sh
# `make image`: the container image localhost/vapd:VERSION, built without any registry.
#
#  1. The base: a minimal Debian 12 (bookworm) root filesystem made by mmdebstrap from the apt
#     mirror (variant essential + vapd's run-time libraries from scripts/image-pkgs.sh, which
#     derives them from `ldd $BUILD/vapd`, + ca-certificates and fonts-dejavu-core; no -dev
#     package, no apt, no documentation), with the unprivileged user vapd (uid/gid 999).
#     Cached as $BUILD/image/vapd-base-bookworm-HASH.tar, HASH over the package list and this
#     recipe, so a second run only relayers; imported with `podman import` as
#     localhost/vapd-base:VERSION (re-imported when its label says another HASH).
#  2. vapd layered on with deploy/image/Containerfile (`podman build --pull=never`, docker
#     format): /usr/bin/vapd, the man pages, configs/ under /usr/share/vapd/configs.
#  3. `podman save` writes $BUILD/image/vapd-VERSION.tar (docker-archive: `podman load -i`,
#     `docker load -i`, `ctr -n k8s.io images import`).
#
# Needs root (mmdebstrap's root mode, podman's system storage) and the apt mirror; installs
# mmdebstrap, podman and uidmap when they are missing. MIRROR (default: mmdebstrap's
# deb.debian.org with bookworm-updates and bookworm-security) is passed to mmdebstrap.
set -e
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
VERSION=${VERSION:?VERSION not set (make image sets it from the Makefile)}
SUITE=bookworm
out=$BUILD/image
die() { echo "image: $*" >&2; exit 1; }
say() { echo "image: $*"; }

[ -x "$BUILD/vapd" ] || die "$BUILD/vapd missing: run make all first"

missing=
command -v mmdebstrap >/dev/null 2>&1 || missing="$missing mmdebstrap"
command -v podman >/dev/null 2>&1 || missing="$missing podman"
command -v newuidmap >/dev/null 2>&1 || missing="$missing uidmap"
if [ -n "$missing" ]; then
	[ "$(id -u)" = 0 ] || die "missing:$missing (apt-get install them as root, or run make image as root)"
	say "installing$missing"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing >/dev/null ||
		die "apt-get install$missing failed"
fi
[ "$(id -u)" = 0 ] || die "run as root: mmdebstrap builds the base in root mode and podman uses the system storage"

mkdir -p "$out"
scripts/image-pkgs.sh "$BUILD/vapd" ca-certificates fonts-dejavu-core >"$out/packages.txt" ||
	die "could not derive the package list from $BUILD/vapd"

# The recipe's hash: the package list, the suite and the mmdebstrap invocation below.
recipe="mmdebstrap --variant=essential --format=tar $SUITE ${MIRROR:-default} user=vapd:999 r1"
hash=$({ echo "$recipe"; cat "$out/packages.txt"; } | sha256sum | cut -c1-12)
base_tar=$out/vapd-base-$SUITE-$hash.tar
base_ref=localhost/vapd-base:$VERSION
ref=localhost/vapd:$VERSION

if [ -s "$base_tar" ]; then
	say "base $base_tar cached ($(wc -l <"$out/packages.txt") packages)"
else
	say "building the base with mmdebstrap ($(wc -l <"$out/packages.txt") packages from the mirror)"
	rm -f "$out"/vapd-base-"$SUITE"-*.tar
	# Run-time only: no documentation, man pages or translations (copyright files stay); the
	# user vapd with its home /var/lib/vapd (the image's working folder).
	mmdebstrap --variant=essential --format=tar --quiet \
		--include="$(paste -sd, "$out/packages.txt")" \
		--aptopt='Acquire::Check-Valid-Until "false"' \
		--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
		--customize-hook='echo "vapd:x:999:999:vapd:/var/lib/vapd:/usr/sbin/nologin" >>"$1/etc/passwd"' \
		--customize-hook='echo "vapd:x:999:" >>"$1/etc/group"' \
		--customize-hook='! [ -e "$1/etc/shadow" ] || echo "vapd:!:19000::::::" >>"$1/etc/shadow"' \
		--customize-hook='mkdir -p "$1/var/lib/vapd" "$1/etc/vapd" && chown 999:999 "$1/var/lib/vapd"' \
		--customize-hook='rm -rf "$1"/var/cache/* "$1"/var/lib/apt/lists/* "$1"/var/log/*' \
		"$SUITE" "$base_tar.part" ${MIRROR:+"$MIRROR"} ||
		{ rm -f "$base_tar.part"; die "mmdebstrap failed (is the apt mirror reachable?)"; }
	mv "$base_tar.part" "$base_tar"
fi

have=$(podman image inspect --format '{{index .Labels "io.vapd.base"}}' "$base_ref" 2>/dev/null || true)
if [ "$have" = "$hash" ]; then
	say "$base_ref is base $hash"
else
	say "podman import $base_tar as $base_ref"
	old_base=$(podman image inspect --format '{{.Id}}' "$base_ref" 2>/dev/null || true)
	podman import --quiet --change "LABEL io.vapd.base=$hash" --change 'CMD ["/bin/sh"]' \
		--message "vapd base $hash: Debian $SUITE by mmdebstrap" "$base_tar" "$base_ref" >/dev/null ||
		die "podman import failed"
	[ -z "$old_base" ] || podman rmi "$old_base" >/dev/null 2>&1 || true   # in use: kept
fi

# The build context: only what the Containerfile copies.
ctx=$out/context
rm -rf "$ctx"; mkdir -p "$ctx/configs"
cp "$BUILD/vapd" "$ctx/vapd"
cp docs/vapd.1 docs/vapd.yaml.5 deploy/image/Containerfile "$ctx/"
cp configs/*.yaml "$ctx/configs/"
chmod 755 "$ctx/vapd"; chmod 644 "$ctx"/vapd.1 "$ctx"/vapd.yaml.5 "$ctx"/configs/*.yaml
say "podman build $ref"
old=$(podman image inspect --format '{{.Id}}' "$ref" 2>/dev/null || true)
podman build --pull=never --format docker --quiet -f "$ctx/Containerfile" \
	--build-arg BASE="$base_ref" --build-arg VERSION="$VERSION" -t "$ref" "$ctx" >/dev/null ||
	die "podman build failed"
# The previous build of this tag, now untagged, goes (only ours: no system-wide prune).
[ -z "$old" ] || [ "$old" = "$(podman image inspect --format '{{.Id}}' "$ref")" ] ||
	podman rmi "$old" >/dev/null 2>&1 || true

rm -f "$out/vapd-$VERSION.tar"
podman save --quiet --format docker-archive -o "$out/vapd-$VERSION.tar" "$ref" || die "podman save failed"
size=$(podman image inspect --format '{{.Size}}' "$ref")
say "$ref: $((size / 1000000)) MB ($(du -m "$base_tar" | cut -f1) MiB base tar); archive $out/vapd-$VERSION.tar ($(du -m "$out/vapd-$VERSION.tar" | cut -f1) MiB)"
# Smoke: the image starts. Where podman cannot run containers (no CAP_SYS_RESOURCE for its
# default rlimits, crun on hybrid cgroups, no user namespaces) the image and its archive are
# still there; say what failed instead of failing the build.
if v=$(podman run --rm "$ref" --version 2>&1) && [ "$v" = "vapd $VERSION" ]; then
	say "podman run --rm $ref --version: $v"
else
	echo "image: warning: podman run --rm $ref --version failed here: $v" >&2
	echo "image: warning: the image and $out/vapd-$VERSION.tar are built; README (Container image) has the podman run flags for such hosts" >&2
fi
