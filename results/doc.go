// Package results holds no code; its subpackages own a run's files:
//
//   - history: the history.jsonl codec (writer, reader, validation);
//   - runfolder: the run folder (creating it, test.json and results.json,
//     the latest link, operation counts);
//   - report: report.html rendered from a run folder's files alone, and
//     report/serve, the browser of every run under a results root;
//   - junit: the JUnit XML report for CI.
package results
