// Writes about MB megabytes of mixed text, drawn by SEED: English words, digits, CJK, emoji (with ZWJ
// sequences and flags), accents (composed and combining), other scripts, punctuation, odd white space
// (tabs, runs of spaces, NBSP, ideographic space, BOM, CR, control characters, U+2581 itself) and newlines.
// Usage: node mixed-text.js OUT MB SEED
const [out, mb, seedArg] = process.argv.slice(2);
let s = Number(seedArg || 1) >>> 0;
function rnd() { s = (s + 0x6D2B79F5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; }
const pick = a => a[Math.floor(rnd() * a.length)];
const words = "the of and to a in is was that for it with as his on be at by I this had not are but from or have an they which one you were her all she there would their we him been has when who will more no if out so said what up its about into than them can only other new some could time these two may then do first any my now such like our over man me even most made after also did many before must through back years where much your way well down should because each just those people Mr how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three".split(' ');
const pieces = [
  () => pick(words), () => pick(words), () => pick(words), () => pick(words),
  () => pick(words).toUpperCase(), () => pick(words)[0].toUpperCase() + pick(words).slice(1),
  () => String(Math.floor(rnd() * 1e6)), () => (rnd() * 100).toFixed(2), () => '1999-12-31',
  () => pick(['日本語', 'のテキスト', '中文字符', '한국어', '漢字', '東京都', '北京']),
  () => pick(['🤖', '🎉', '👩‍👩‍👧', '🇫🇷', '😀😃', '❤️', '🧪', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢']),
  () => pick(['café', 'naïve', 'Ñandú', 'über', 'façade', 'Ærø', 'Straße', 'résumé', 'e\u0301']),
  () => pick(['Привет', 'мир', 'Ελληνικά', 'עברית', 'العربية', 'हिन्दी', 'ไทย']),
  () => pick(['<', '>', '<<', '</', '[', ']', '{}', '()', '"', "'", '`', '\\', '/', '|', '~', '^', '@#$%', '&&', '->', '=>', '...', '--', '—', '–', '…', '«»', '€', '£', '¥', '©', '°']),
  () => pick(['\u200b', '\u00a0', '\u3000', '\ufeff', '\u2028', '\r', '\x01', '\x7f', '\u2581', '▁▁']),
  () => pick(['    ', '\t', '\t\t', '  ', '   ', '        ']),
  () => pick(['\n', '\n\n', '\n\n\n', ' \n', '\n ', '\r\n']),
  () => pick(['http://example.com/a?b=c&d=e', 'foo_bar_baz', 'camelCaseWord', 'x = y + 1;', 'if (a) { b(); }', "don't", "I'll", "it's"]),
];
const fs = require('fs');
const target = Number(mb) * 1e6;
const chunks = [];
let n = 0, line = '';
while (n < target) {
  const p = pick(pieces)();
  const sep = rnd() < 0.8 ? ' ' : (rnd() < 0.5 ? '' : pick(['  ', '\t', '\n', ',', '.', '. ']));
  line += p + sep;
  if (line.length > 60 + rnd() * 200) { line += '\n'; chunks.push(line); n += Buffer.byteLength(line); line = ''; }
}
fs.writeFileSync(out, chunks.join(''));
