// v2 pids controller: pids.max / pids.current, the same files and values as on v1.
export { apply, controller, requested, stats } from "../v1/pids.js";
