// The wallet wire schemas (issue 4). Exported from index.ts with export *.
export {};
