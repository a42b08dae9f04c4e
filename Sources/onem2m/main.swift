// `onem2m`: the command-line tool over the OneM2MClient SDK (docs/cli.md).
OneM2MTool.runMain()
