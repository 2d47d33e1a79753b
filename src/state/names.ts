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

/** Longest name: a name is reserved as a file `names/<name>`, and a file name has at most 255 bytes. */
export const MAX_NAME_LENGTH = 255;

/** Docker's rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (and at most MAX_NAME_LENGTH characters). */
export function validateName(name: string): string {
  const bare = name.startsWith("/") ? name.slice(1) : name;
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(bare)) {
    throw new UsageError(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  if (bare.length > MAX_NAME_LENGTH) {
    throw new UsageError(`Invalid container name: ${bare.length} characters, at most ${MAX_NAME_LENGTH} are allowed`);
  }
  return bare;
}
