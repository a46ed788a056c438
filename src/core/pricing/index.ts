// Pricing and metering: the price book, promotions, exact money, the ledger and usage reports.
export * from './money.js';
export * from './types.js';
export * from './calendar.js';
export * from './price.js';
export * from './quote.js';
export * from './report.js';
export * from './parse.js';
export * from './ledger.js';
