#!/usr/bin/env bash
# `make image`: the qlab root filesystem without a container engine or a
# base image to pull (docs/deploy-container.md). debootstrap lays out a
# minimal Debian of the build machine's release with the runtime packages
# of runtime-packages.txt, `make install PREFIX=/usr` adds qlab on top (the
# binaries of this build, so the release must match the build machine's),
# the user qlab (uid 10001) is created, each binary is run once inside it,
# and the tree is packed into a tarball that `podman import` or
# `docker import` turns into an image.
#
# Usage (as root): deploy/container/debootstrap.sh OUT_DIR
# Environment: BUILD (make's build directory), SUITE (default: this
# machine's VERSION_CODENAME), MIRROR (default http://deb.debian.org/debian).
set -euo pipefail

out=${1:?usage: debootstrap.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
suite=${SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:-}")}
mirror=${MIRROR:-http://deb.debian.org/debian}
build=${BUILD:-build}

die() { echo "make image: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "debootstrap and chroot need root"
if ! command -v debootstrap >/dev/null; then
    echo "make image: installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap ||
        die "debootstrap is not installed and apt-get could not install it"
fi
[[ -n $suite ]] || die "cannot tell this machine's Debian release; set SUITE"

root="$out/rootfs"
rm -rf "$root"
mkdir -p "$root"
pkgs=$(grep -v '^#' "$here/runtime-packages.txt" | paste -sd, -)
echo "make image: debootstrap $suite ($mirror) into $root with $pkgs"
debootstrap --variant=minbase --include="$pkgs" "$suite" "$root" "$mirror" >"$out/debootstrap.log" 2>&1 ||
    { tail -n 30 "$out/debootstrap.log" >&2; die "debootstrap failed (log: $out/debootstrap.log)"; }

make -s -C "$repo" BUILD="$build" install PREFIX=/usr DESTDIR="$root"
chroot "$root" groupadd --gid 10001 qlab
chroot "$root" useradd --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/qlab \
    --shell /usr/sbin/nologin qlab
install -d -m 0750 "$root/var/lib/qlab"
chroot "$root" chown qlab:qlab /var/lib/qlab

# Every binary must find its libraries in the image.
for b in qlab qlab-server qlab-worker; do
    chroot "$root" "/usr/bin/$b" --help >/dev/null ||
        die "/usr/bin/$b does not run inside the image (missing libraries? see runtime-packages.txt)"
done

# apt's caches, and translations and manuals nobody reads in a container
# (the copyright files under /usr/share/doc stay).
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/usr/share/locale/* "$root"/usr/share/man/* "$root"/usr/share/info/*
tar --numeric-owner -C "$root" -czf "$out/qlab-rootfs.tar.gz" .
echo "make image: $out/qlab-rootfs.tar.gz ($(du -h "$out/qlab-rootfs.tar.gz" | cut -f1)); import it with"
echo "  podman import --change 'USER 10001' --change 'WORKDIR /var/lib/qlab' \\"
echo "    --change 'ENV QLAB_LISTEN=0.0.0.0:8080' --change 'ENV QLAB_DB=/var/lib/qlab/qlab.db' \\"
echo "    --change 'EXPOSE 8080' --change 'CMD [\"qlab-server\"]' $out/qlab-rootfs.tar.gz qlab:0.1.0"
