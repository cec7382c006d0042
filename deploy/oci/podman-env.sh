# Source this file (bash) to give podman and buildah a private, self-contained setup under one folder:
#   source deploy/oci/podman-env.sh && podman images
# deploy/oci/build-images.sh and tests/deploy/test_images.py use the same folder, so the images they
# build and the containers they run can be inspected by hand afterwards.
#
# The folder (BGE_OCI_DIR, default .cache/oci in this repository, ignored by git) holds podman's image
# storage, its run state and its configuration. Nothing is written to /var/lib/containers or /etc/containers.
# The configuration fits CI machines and sandboxes without systemd: cgroupfs instead of systemd cgroups,
# events in a file instead of the journal, runc (crun 1.8 refuses cgroup v1+v2 hybrid hosts), and
# default ulimits no higher than this process may grant (podman's 1048576 fail without CAP_SYS_RESOURCE).

BGE_OCI_DIR=${BGE_OCI_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.cache/oci}
export BGE_OCI_DIR
mkdir -p "$BGE_OCI_DIR"/{storage,runroot,conf,tmp}

_bge_oci_nofile=$(ulimit -Hn)
[ "$_bge_oci_nofile" = unlimited ] && _bge_oci_nofile=1048576
_bge_oci_nproc=$(ulimit -Hu)
{ [ "$_bge_oci_nproc" = unlimited ] || [ "$_bge_oci_nproc" -gt 32768 ]; } && _bge_oci_nproc=32768

cat >"$BGE_OCI_DIR/conf/storage.conf" <<EOF
[storage]
driver = "${STORAGE_DRIVER:-overlay}"
graphroot = "$BGE_OCI_DIR/storage"
runroot = "$BGE_OCI_DIR/runroot"
EOF
cat >"$BGE_OCI_DIR/conf/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$_bge_oci_nofile:$_bge_oci_nofile", "nproc=$_bge_oci_nproc:$_bge_oci_nproc"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
EOF
unset _bge_oci_nofile _bge_oci_nproc

export CONTAINERS_STORAGE_CONF=$BGE_OCI_DIR/conf/storage.conf
export CONTAINERS_CONF=$BGE_OCI_DIR/conf/containers.conf
# buildah's temporary copies of layers go here, not to a possibly small /tmp or /var/tmp
export TMPDIR=$BGE_OCI_DIR/tmp
# RUN steps of a build in a chroot, on the host's network: no nested runtime or network setup needed
export BUILDAH_ISOLATION=chroot
