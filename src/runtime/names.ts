// Docker-style generated container names (adjective_surname) and name validation.
import { randomBelow } from "../util/random.js";
import { UsageError } from "../errors.js";

const LEFT = ["admiring", "bold", "brave", "clever", "eager", "elegant", "festive", "focused", "gifted",
  "happy", "jolly", "keen", "loving", "modest", "nifty", "quirky", "serene", "sharp", "sleepy", "tender",
  "upbeat", "vibrant", "wizardly", "zealous"];
const RIGHT = ["babbage", "bohr", "curie", "darwin", "dijkstra", "einstein", "euler", "fermi", "hopper",
  "hypatia", "kepler", "knuth", "lamport", "lovelace", "meitner", "newton", "noether", "pascal", "ritchie",
  "shannon", "thompson", "torvalds", "turing", "wozniak"];

export function generateName(): string {
  return `${LEFT[randomBelow(LEFT.length)]}_${RIGHT[randomBelow(RIGHT.length)]}`;
}

/** Docker's rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
export function validateName(name: string): string {
  const bare = name.startsWith("/") ? name.slice(1) : name;
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(bare)) {
    throw new UsageError(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  return bare;
}
