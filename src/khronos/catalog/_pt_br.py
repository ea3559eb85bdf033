"""The Brazilian Portuguese catalog (``alerts.language: pt-BR``): every id of ``_en``."""

from __future__ import annotations

__all__ = ["PT_BR"]

PT_BR: dict[str, str] = {
    # ---------------------------------------------------------------- the alert's frame
    "level.INFO": "INFO",
    "level.WARN": "AVISO",
    "level.ERROR": "ERRO",
    "level.CRITICAL": "CRÍTICO",
    "resolved": "✅ Resolvido: {message}",
    "lasted": "durou {duration}",
    "worst": "pior: {worst}",
    "first_seen": "visto pela primeira vez há {age}",
    "still_firing": "ainda ativo após {duration}",
    "worse": "piorou: era {level}, {note}",
    "closed": "Encerrado, não é mais verificado: {message}",
    "closed_note": (
        "aberto por {duration}; nada o verificou nos {grace} após o Khronos reiniciar (a "
        "verificação foi removida?), então foi encerrado sem saber se a causa acabou"
    ),
    "silence_ended": "Ainda ativo após o fim do silêncio: {message}",
    "firing_for": "ativo há {duration}",
    "suppressed_note": "mais {count} iguais suprimidos nos últimos {window}",
    "test_note": "alerta de teste",
    "channel_back": (
        "✅ {channel} voltou a responder após {duration}; {count} alerta(s) atrasaram e "
        "são entregues na ordem original."
    ),
    "joined": "{first}; {second}",
    # ---------------------------------------------------------------- tests and the demo
    "test.cli": "Alerta de teste do `khronos alert test`",
    "test.api": "Alerta de teste da API do Khronos",
    "demo.started": "Demonstração iniciada: o Khronos está vigiando o demo-bot",
    # ---------------------------------------------------------------- the alert engine's own
    "state_dir.full": "state_dir cheio: não é possível gravar {path} ({reason})",
    "state_dir.unwritable": "state_dir sem permissão de escrita: não é possível gravar {path} "
    "({reason})",
    "state_dir.hint": (
        "libere espaço (ou descritores de arquivo) para o Khronos; enquanto isso os alertas "
        "esperam na memória (até {max_pending}), são entregues de lá e gravados na fila "
        "quando ela voltar a aceitar escrita"
    ),
    # ---------------------------------------------------------------- semantic alerts
    "semantic.breaker_opened": "Circuit breaker {breaker} abriu",
    "semantic.database_down": "Banco de dados {database} fora do ar",
    "semantic.database_down.action": "reconecte ou reinicie o serviço",
    "semantic.high_error_rate": "Taxa de erros alta",
    "semantic.high_memory": "Uso de memória alto",
    "semantic.queue_backlog": "Fila acumulando",
    "semantic.service_unhealthy": "Serviço {service} com problemas",
    "semantic.backup_lag": "Backup de {database} atrasado",
    "semantic.backup_down": (
        "Processo de backup (Litestream) parado: as alterações não estão sendo copiadas"
    ),
    "semantic.drill_failed": "Teste de restauração de {database} falhou",
    # ---------------------------------------------------------------- backup
    "backup.db_down": "Banco de dados fora do ar: {path} não existe",
    "backup.db_down.hint": "restaure-o: khronos restore",
    "backup.lag": ("Backup de {db} está {lag:.0f}s atrasado (alerta após {limit:g}s){because}"),
    "backup.because": ": {error}",
    "backup.not_replicating": ": o Litestream não o está replicando",
    "backup.lag.hint": (
        "verifique se a réplica está acessível e as credenciais, e se o Litestream está "
        "rodando (khronos status)"
    ),
    "backup.worst_lag": "atraso {lag}",
    "backup.replica_down": (
        "Backup de {db} parado: a réplica {replica} não aceita nada há {seconds:.0f}s "
        "(alerta após {limit:g}s){because}"
    ),
    "backup.replica_down.hint": (
        "corrija a réplica (bucket, credenciais, rede) ou o Litestream; nada se perde "
        "localmente, tudo é enviado quando a réplica voltar a aceitar"
    ),
    "backup.unresponsive": (
        "Replicação do backup parada: o Litestream (pid {pid}) está rodando mas {problem} "
        "(há {seconds:.0f}s)"
    ),
    "backup.unresponsive.hint": (
        "um Litestream travado: veja as linhas de log dele e a réplica; reiniciar o khronos "
        "o reinicia"
    ),
    "backup.socket_silent": "o socket de controle {socket} não responde",
    "backup.idle": "não replica {dbs}",
    "backup.gave_up": (
        "Backup parado: o Litestream caiu {count} vezes seguidas (cada execução com menos de "
        "{min_uptime:g}s); o Khronos desistiu de reiniciá-lo"
    ),
    "backup.gave_up.hint": "veja as linhas de log do litestream acima, corrija, reinicie o khronos",
    "backup.exited": (
        "Replicação do backup parada: o Litestream saiu com código {code}; reiniciando em "
        "{delay:g}s"
    ),
    "backup.continuity": (
        "O backup de {db} pode estar sem alterações: {reason}; {problem}. O Khronos tenta de "
        "novo em {delay:g}s"
    ),
    "backup.continuity.hint": "veja docs/backup.md (a janela de falha)",
    "backup.no_checkpoint": (
        "não foi possível fazer o checkpoint do WAL (uma transação de leitura longa?)"
    ),
    "backup.snapshot_failed": "{problem} e um snapshot separado falhou ({error})",
    "backup.snapshot_taken": (
        "{problem}; foi feito um snapshot separado, que a maioria das restaurações usa"
    ),
    "backup.ltx_unreadable": "o arquivo LTX local mais novo do Litestream não pode ser lido",
    "backup.wal_gone": (
        "o WAL sumiu (passou por checkpoint e foi removido enquanto o Litestream estava parado)"
    ),
    "backup.wal_reset": (
        "o WAL foi reiniciado enquanto o Litestream estava parado (salts {before} -> {after})"
    ),
    "backup.wal_shorter": (
        "o WAL é menor ({size} bytes) do que o que o Litestream copiou ({shipped} bytes)"
    ),
    "litestream.no_backup": "a réplica {replica} ainda não tem backups",
    "litestream.no_bucket": "o bucket {bucket} não existe em {endpoint}",
    "litestream.credentials": "a réplica {replica} recusou as credenciais ({error})",
    "litestream.unreachable": "não é possível alcançar a réplica {replica} ({error})",
    "backup.drill_missing_rows": "o teste encontrou linhas faltando",
    # ---------------------------------------------------------------- the daemon
    "daemon.part_down": "O Khronos parou de executar {part}: {reason}",
    "daemon.part_down.action": (
        "reinicie o khronos (por exemplo, systemctl restart khronos); o log tem a causa"
    ),
    "daemon.drill_failed": (
        "Teste de restauração de {db} falhou: talvez o backup não possa ser restaurado"
    ),
    "daemon.unknown": "desconhecido",
    "logs.dir_full": "pasta de logs cheia: não é possível gravar {path} ({error}){more}",
    "logs.unwritable": (
        "arquivos de log sem permissão de escrita: não é possível gravar {path} ({error}){more}"
    ),
    "logs.more": " (+ {count} outros)",
    "logs.writable": "os arquivos de log podem ser gravados",
    "logs.action": (
        "libere espaço (ou descritores de arquivo) na pasta de logs; enquanto isso cada "
        "arquivo guarda as linhas novas na memória (até 4 MB) e as grava quando puder"
    ),
    # ---------------------------------------------------------------- snapshots
    "snapshot.failed": "A cópia cifrada de {db} para {dest} falhou: {error}",
    "snapshot.failed.hint": (
        "{hint}; o Khronos tenta de novo com espera crescente e faz uma assim que funcionar"
    ),
    "snapshot.failed.fix_destination": (
        "corrija o destino (bucket, credenciais, rede, espaço livre)"
    ),
    "snapshot.worst_failures": "{count} tentativas falhas seguidas",
    "snapshot.stale": (
        "A cópia cifrada mais recente de {db} em {dest} tem {age} (a cada {interval}, alerta "
        "após {limit}){because}"
    ),
    "snapshot.none_yet": (
        "Nenhuma cópia cifrada de {db} em {dest} deu certo em {age} (a cada {interval}, alerta "
        "após {limit}){because}"
    ),
    "snapshot.stale.hint": (
        "khronos status mostra o último erro; khronos snapshot now faz uma agora"
    ),
    "snapshot.worst_age": "a mais recente com {age}",
    "snapshot.drill_failed": (
        "O teste de restauração da cópia cifrada de {db} em {dest} falhou: {error}"
    ),
    "snapshot.drill_failed.hint": (
        "a segunda cópia pode não ser restaurável: `khronos snapshots list`, depois "
        "`khronos restore --from snapshot` para um caminho de teste"
    ),
    "snapshot.unknown": "erro desconhecido",
    # ---------------------------------------------------------------- checks
    "check.crashed": "A verificação {name} falhou com erro: {error}",
    "check.metrics_unreadable": "Não é possível ler as métricas do app: {reason}",
    "check.memory_unreadable": "A verificação de memória não consegue ler o processo",
    "check.memory_ok": "Uso de memória normal",
    "check.memory_above": "Uso de memória acima do limite",
    "check.memory_high": "Uso de memória alto",
    "check.worst_rss": "RSS {used:.0f} MB",
    "check.disk_failed": "A verificação de disco falhou",
    "check.disk_low": "Pouco espaço em disco em {path}",
    "check.worst_free": "{free} MB livres",
    "check.disk_ok": "Espaço em disco em {path} está ok",
    "check.http_ok": "Serviço {service} saudável",
    "check.http_failed": "Serviço {service} com problemas",
    "check.worst_failed": "{count} falha(s) seguida(s)",
    "check.no_messages": "Ainda sem métricas de mensagens",
    "check.few_messages": "Poucas mensagens para avaliar a taxa de erros",
    "check.error_rate_high": "Taxa de erros alta",
    "check.worst_rate": "taxa de erros {rate:.2%}",
    "check.error_rate_ok": "Taxa de erros normal",
    "check.no_queue": "Ainda sem métrica de fila",
    "check.queue_high": "A fila está crescendo",
    "check.worst_queued": "{size} na fila",
    "check.queue_ok": "A fila está andando",
    # ---------------------------------------------------------------- heartbeats
    "heartbeat.running": (
        "A tarefa {name} começou em {started} e não terminou (tolerância de {grace})"
    ),
    "heartbeat.never": (
        "A tarefa {name} nunca enviou sinal (esperado a cada {every}, tolerância de {grace})"
    ),
    "heartbeat.late": (
        "A tarefa {name} está atrasada: nenhum sinal desde {last} (esperado a cada {every}, "
        "tolerância de {grace})"
    ),
    "heartbeat.expected": "a cada {every}, tolerância de {grace}",
    "heartbeat.failed": "A tarefa {name} informou uma falha",
    # ---------------------------------------------------------------- the app
    "app.exited": "saiu com código {code}",
    "app.killed": "foi morto por {signal}",
    "app.gave_up": (
        "O app {how} e caiu {count} vezes seguidas (cada execução com menos de "
        "{min_uptime:g}s): o Khronos desistiu de reiniciá-lo"
    ),
    "app.gave_up.hint": "corrija-o e envie SIGHUP ao khronos (ou reinicie o khronos)",
    "app.restarting": "O app {how}; reiniciando em {delay:g}s",
    "app.running_again": "O app está rodando de novo (pid {pid})",
    # ---------------------------------------------------------------- the status' reasons
    "status.db_missing": "o banco de dados {db} não existe ({path})",
    "status.replica_down": "backup de {db} parado: a réplica não aceita nada",
    "status.not_replicating": "o backup de {db} não está replicando",
    "status.lag": "atraso do backup de {lag} em {db}",
    "status.app_gave_up": "app fora do ar: o Khronos desistiu de reiniciá-lo{last}",
    "status.app_down": "app fora do ar{last}",
    "status.killed": " (morto por {signal})",
    "status.exited": " (saiu com código {code})",
    "status.condition": "{message} (há {duration})",
    "status.check_failing": "verificação {name} falhando: {message}",
    "status.heartbeat": "heartbeat {name} em estado {state}",
    "status.channel_down": (
        "canal de alertas {name} inacessível (circuit breaker {breaker}): os alertas esperam "
        "na fila"
    ),
    # ---------------------------------------------------------------- the Telegram console
    "button.ack": "Ciente",
    "button.silence_1h": "Silenciar 1h",
    "button.silence_24h": "Silenciar 24h",
    "console.conflict": (
        "Os comandos do Telegram estão desligados: {why}. Outro programa recebe as "
        "atualizações deste bot; dê ao Khronos um bot só dele (alerts.telegram.bot_token). "
        "Os alertas continuam sendo enviados."
    ),
    "console.webhook_set": "há um webhook configurado para o token deste bot",
    "cmd.status": "Estado geral, bancos de dados, app e verificações",
    "cmd.alerts": "As condições ativas agora",
    "cmd.ack": "Confirmar um alerta (responda a ele, ou /ack CHAVE)",
    "cmd.backup": "Forçar uma sincronização e informar o txid da réplica",
    "cmd.drill": "Rodar um teste de restauração agora",
    "cmd.silence": "/silence O_QUÊ DURAÇÃO [MOTIVO]",
    "cmd.unsilence": "/unsilence ID",
    "cmd.silences": "Os silêncios ativos",
    "cmd.help": "O que o bot entende",
    "reply.unknown": "Comando desconhecido /{name}. Envie /help para ver a lista.",
    "reply.empty": "/{name}: nada a informar.",
    "reply.help_title": "Comandos do Khronos",
    "reply.never": "nunca",
    "reply.ago": "há {duration}",
    "reply.at_ago": "{at} (há {duration})",
    "reply.unknown_value": "desconhecido",
    "reply.no_drill": "nenhum ainda",
    "reply.drill_ok": "ok {when}",
    "reply.drill_failed": "FALHOU {when}",
    "reply.database": (
        "{state} <b>{db}</b>: atraso {lag}, última sincronização {sync}, último teste: {drill}"
    ),
    "reply.snapshot": "{state} cópia cifrada {dest}: {when}",
    "reply.app": "App: {state} (<code>{command}</code>, reinícios {restarts})",
    "reply.app_up": "✅ no ar",
    "reply.app_down": "❌ fora do ar",
    "reply.no_status": "O status não está disponível aqui.",
    "reply.databases": "Bancos de dados",
    "reply.no_database": "Nenhum banco de dados tem backup.",
    "reply.checks": "Verificações",
    "reply.state.OK": "OK",
    "reply.state.WARN": "AVISO",
    "reply.state.CRITICAL": "CRÍTICO",
    "reply.nothing_firing": "✅ Nada ativo.",
    "reply.firing": "{count} ativo(s)",
    "reply.acked_by": " (confirmado por {by})",
    "reply.firing_line": "{emoji} <code>{key}</code> há {duration}",
    "reply.no_ack": "Confirmar alertas não está disponível aqui.",
    "reply.ack_usage": (
        "Responda /ack a um alerta, ou envie <code>/ack CHAVE</code> (as chaves: /alerts)."
    ),
    "reply.not_firing": "<code>{key}</code> não está ativo (veja /alerts).",
    "reply.acked": (
        "👍 <code>{key}</code> confirmado por {by}: sem repetições até resolver ou piorar."
    ),
    "reply.failed": "❌ {what} falhou: {error}",
    "reply.nothing": "{what}: nada a informar",
    "reply.what_backup": "backup",
    "reply.what_drill": "teste de restauração",
    "reply.no_backup": "Nenhuma seção backup: configurada.",
    "reply.no_silences": "silêncios não estão disponíveis neste Khronos",
    "reply.silence_usage": (
        "Uso: <code>/silence O_QUÊ DURAÇÃO [MOTIVO]</code> (/silence backup 1h deploy)"
    ),
    "reply.not_duration": "Não é uma duração: <code>{value}</code> (escreva 30m, 1h, 2d).",
    "reply.positive": "A duração precisa ser positiva (30m, 1h, 2d).",
    "reply.silenced": ("🔕 <code>{what}</code> silenciado por {duration} (id <code>{id}</code>)."),
    "reply.unsilence_usage": "Uso: <code>/unsilence ID</code> (os ids: /silences)",
    "reply.unsilenced": "🔔 Silêncio <code>{id}</code> encerrado.",
    "reply.no_such_silence": "Não há silêncio <code>{id}</code> (veja /silences).",
    "reply.no_silence": "Nenhum silêncio ativo.",
    "reply.silences": "{count} silêncio(s)",
    "reply.silence_line": "🔕 <code>{id}</code> {match} até {until} {reason}",
    "reply.running": "⏳ /{name} já está rodando.",
    "reply.started": "⏳ /{name} iniciado…",
    "reply.synced": "✅ {db}: réplica no txid {replica} (banco {local})",
    "reply.drill_passed": (
        "✅ {db}: restaurado e verificado em {seconds:.1f}s (txid {txid}; {continuity})"
    ),
    "reply.not_compared": "não comparado",
    "reply.drill_line_failed": "❌ {db}: {error}",
    "reply.drill_failed_plain": "o teste falhou",
    "button.not_allowed": "Não permitido aqui",
    "button.no_silences": "silêncios não estão disponíveis",
    "button.unknown": "Botão desconhecido",
    "button.acked": "Confirmado",
    "button.acked_note": "👍 Confirmado por {by} às {at}",
    "button.silenced": "Silenciado por {duration}",
    "button.silenced_note": "🔕 Silenciado por {duration} por {by} às {at}",
    "button.reason": "por um botão do Telegram",
    "edit.resolved": "✅ <b>Resolvido</b> após {duration}",
}
"""Message id -> Brazilian Portuguese text (the same placeholders as English)."""
