// Numbers: how the page shows them (as graphdsl's formatting.py does), how it reads
// what a person types, and how they travel as JSON (NaN and the infinities as the
// strings "NaN", "Infinity", "-Infinity", as graphrun --json writes them).

const NONFINITE = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };
const NUMBER_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const NONFINITE_TEXT = /^([+-]?)(nan|inf|infinity)$/i;

// A JSON value from the server (numbers, the three strings, nested lists) as numbers.
function fromWire(value) {
  if (Array.isArray(value)) return value.map(fromWire);
  if (typeof value === "string") return value in NONFINITE ? NONFINITE[value] : NaN;
  return value;
}

// Numbers (or nested lists of them) as JSON data for the server.
function toWire(value) {
  if (Array.isArray(value)) return value.map(toWire);
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "Infinity";
  if (value === -Infinity) return "-Infinity";
  return value;
}

// A number as graphdsl's format_number writes it: six significant digits, no
// trailing ".0", "nan", "inf", "1e-08".
function formatNumber(x) {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  if (x === 0) return "0";
  if (Number.isInteger(x) && Math.abs(x) < 1e15) return String(x);
  const [mantissa, power] = sixDigits(x).split("e");
  const exponent = Number(power);
  if (exponent < -4 || exponent >= 6) {
    const digits = mantissa.includes(".") ? mantissa.replace(/\.?0+$/, "") : mantissa;
    const sign = exponent < 0 ? "-" : "+";
    return `${digits}e${sign}${String(Math.abs(exponent)).padStart(2, "0")}`;
  }
  // The same six digits, the point moved (what "%g" does below 1e6 and from 1e-4).
  const sign = mantissa.startsWith("-") ? "-" : "";
  const six = mantissa.replace("-", "").replace(".", "");
  const whole = exponent >= 0 ? six.slice(0, exponent + 1) : "0";
  const fraction = exponent >= 0 ? six.slice(exponent + 1) : "0".repeat(-exponent - 1) + six;
  const trimmed = fraction.replace(/0+$/, "");
  return sign + whole + (trimmed ? `.${trimmed}` : "");
}

// x.toExponential(5), but an exact tie rounds to even, as Python's "%.6g" does
// (2 ** -10 = 0.0009765625 is 9.76562e-4, not 9.76563e-4).
function sixDigits(x) {
  const [digits, power] = Math.abs(x).toExponential(20).split("e");
  const all = digits.replace(".", "");
  if (/^\d{6}50*$/.test(all) && Number(all[5]) % 2 === 0) {
    return `${x < 0 ? "-" : ""}${all[0]}.${all.slice(1, 6)}e${power}`;
  }
  return x.toExponential(5);
}

// A value in the node inspector and the quiz's table: a number, or an array's entries
// listed, as format_compact writes them. (The picture's numbers come written from the
// server, which summarises large arrays as the picture does.)
function formatCompact(value) {
  if (Array.isArray(value)) return "[" + value.map(formatCompact).join(", ") + "]";
  return formatNumber(value);
}

// A value exactly, as --json writes it: for data-* attributes and the results table.
function exactText(wire) {
  if (typeof wire === "string") return wire;
  return JSON.stringify(wire);
}

// What a person writes in a field: a number, or nan/inf words.
function parseNumberText(text) {
  const trimmed = text.trim();
  if (NUMBER_TEXT.test(trimmed)) return Number(trimmed);
  const words = NONFINITE_TEXT.exec(trimmed);
  if (!words) return null;
  if (words[2].toLowerCase() === "nan") return NaN;
  return words[1] === "-" ? -Infinity : Infinity;
}

// A JSON array as a person writes it (nan and inf allowed, as on graphrun's command
// line): numbers, or throws an Error saying what is wrong.
function parseArrayText(text) {
  const spelled = text.replace(/(^|[^\w.])([+-]?)(nan|inf|infinity)(?![\w])/gi,
    (_, before, sign, word) => before + (word.toLowerCase() === "nan" ? '"NaN"'
      : sign === "-" ? '"-Infinity"' : '"Infinity"'));
  let data;
  try {
    data = JSON.parse(spelled);
  } catch (err) {
    throw new Error("is not a JSON array such as [[1, 2], [3, 4]]");
  }
  const check = (item) => Array.isArray(item) ? item.forEach(check)
    : (typeof item === "number" || item in NONFINITE) ? null
    : (() => { throw new Error("must hold numbers only"); })();
  check(data);
  return fromWire(data);
}

// A value's text in a control field.
function fieldText(value) {
  if (Array.isArray(value)) return JSON.stringify(toWire(value)).replace(/,/g, ", ");
  if (Number.isNaN(value)) return "nan";
  if (value === Infinity) return "inf";
  if (value === -Infinity) return "-inf";
  return String(value);
}

function shapeOf(value) {
  const shape = [];
  for (let item = value; Array.isArray(item); item = item[0]) shape.push(item.length);
  return shape;
}

// Elementwise a - lr * g (the step of gradient descent), on numbers or nested lists.
function descend(value, gradient, lr) {
  if (Array.isArray(value)) {
    return value.map((item, i) => descend(item, Array.isArray(gradient) ? gradient[i] : gradient, lr));
  }
  return value - lr * gradient;
}

// Does an answer match the expected gradient within relative tolerance 1e-3 (SPEC §6)?
function closeEnough(answer, expected) {
  if (Array.isArray(expected)) {
    return Array.isArray(answer) && answer.length === expected.length &&
      expected.every((item, i) => closeEnough(answer[i], item));
  }
  if (typeof answer !== "number") return false;
  if (Number.isNaN(expected)) return Number.isNaN(answer);
  if (!Number.isFinite(expected)) return answer === expected;
  const error = Math.abs(answer - expected);
  return error <= 1e-3 * Math.max(Math.abs(expected), Math.abs(answer)) || error <= 1e-12;
}
