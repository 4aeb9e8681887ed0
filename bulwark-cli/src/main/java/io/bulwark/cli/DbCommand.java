package io.bulwark.cli;

import picocli.CommandLine.Command;

@Command(name = "db", mixinStandardHelpOptions = true,
    description = {"The database: primary and hot standby, failover, backups, point-in-time restore, verification.",
        "",
        "`bulwark up` runs two PostgreSQL nodes, pg-a and pg-b: one primary, one hot",
        "standby streaming from it (synchronously while it is healthy). The failover",
        "controller promotes the standby within seconds when the primary dies, fences",
        "the old primary and rebuilds it as the new standby. WAL is archived",
        "continuously into DIR/archive, with daily base backups: restore any second of",
        "the last 7 days."},
    subcommands = {DbStatusCommand.class, DbFailoverCommand.class, DbBackupsCommand.class, DbBackupCommand.class,
        DbRestoreCommand.class, DbPromoteRestoreCommand.class, DbVerifyCommand.class, DbAppRoleCommand.class})
final class DbCommand {}
