/**
 * The architecture's rules (docs: https://github.com/sverweij/dependency-cruiser). Data flows one
 * way: CLI / planner / scenario / demo -> machine -> kernel subsystems -> core. test/arch checks
 * these on every `npm test`; `npx depcruise src web bench --config` prints the same verdicts.
 */
/** The public entry points: the only doors for the clients. */
const PUBLIC = '^src/(index|browser)[.]ts$';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycles at run time (type-only imports may point back).',
      severity: 'error',
      from: {},
      to: { circular: true, dependencyTypesNot: ['type-only'], viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'clients-use-the-public-api',
      comment: 'The CLI, the demo and the oracle reach the model only through src/index.ts and src/browser.ts.',
      severity: 'error',
      from: { path: '^(src/cli|src/oracle|web)/' },
      to: { path: '^src/', pathNot: [PUBLIC, '^src/cli/', '^src/oracle/'] },
    },
    {
      name: 'bench-uses-the-public-api-and-the-cores',
      comment: 'The benchmark may load the cores beside the public API.',
      severity: 'error',
      from: { path: '^bench/' },
      to: { path: '^src/', pathNot: [PUBLIC, '^src/core/'] },
    },
    {
      name: 'kernel-knows-no-clients',
      comment: 'The modelled kernel never imports the CLI, the planner, the scenario runner or the oracle.',
      severity: 'error',
      from: { path: '^src/kernel/' },
      to: { path: '^src/(cli/|oracle/|planner[.]ts|scenario[.]ts|machine[.]ts|index[.]ts|browser[.]ts)' },
    },
    {
      name: 'drivers-go-through-the-kernel',
      comment: 'Drivers reach the core only through the kernel (type-only imports count too).',
      severity: 'error',
      from: { path: '^src/(nvdimm|dax|hmem)/' },
      to: { path: '^src/core/' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)node_modules/|^dist/|^build/' },
  },
};
