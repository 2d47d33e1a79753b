// The host calls unpacking a layer needs beyond plain file operations: a
// device node (whiteouts included) and an xattr (the opaque marker included),
// each made relative to its directory opened beneath the layer root without
// following any symlink. The main thread passes the native binding
// (native/shim.ts); the unpack worker, which must never load ffi-rs (the
// process crashes when a worker that loaded it exits), passes the relay that
// has the main thread make the call (shim-relay.ts); unit tests pass a
// recording fake.

export interface LayerHostCalls {
  /** mknod of `name` in `dir` (relative to `root`, "" = the root itself), beneath `root`. */
  mknodBeneath(root: string, dir: string, name: string, mode: number, major: number, minor: number): void;
  /** lsetxattr of `name` in `dir` ("" = `dir` itself), beneath `root`. */
  setxattrBeneath(root: string, dir: string, name: string, xattr: string, value: string | Buffer): void;
}
