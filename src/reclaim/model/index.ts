// The model's public surface, loaded lazily by `tsbox mem simulate`.
export { renderChart } from "./chart.js";
export { largestFit, withGuests } from "./density.js";
export { withHostProfile } from "./host-costs.js";
export { guestFromProfile, guestsFromScanReport, type MemStatNumbers } from "./from-profile.js";
export { POLICIES, POLICY_NAMES, isPolicyName, onlySwaps, type PolicyName } from "./policies.js";
export { buildReport, densityCurves, toJson, toTable, type SimulationReport } from "./report.js";
export { parseScenario, parseSize, scenarioFromReport, scenarioFromScanReport, ScenarioError } from "./scenario-file.js";
export type { Scenario, Guest, Demand } from "./scenario.js";
export { simulate, fits } from "./simulate.js";
export { DEFAULT_KSM_RATE, type KsmRate } from "./ksm-time.js";
