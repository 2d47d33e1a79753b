// v2 pids controller: pids.max, the same file and values as on v1.
export { apply, controller, requested } from "../v1/pids.js";
