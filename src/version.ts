// The release of this build (kept equal to package.json's version by test/unit/version.test.ts).

/** glassdome's version. */
export const VERSION = '0.1.0';
