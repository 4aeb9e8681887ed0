package io.bulwark.monitor;

import jakarta.mail.Authenticator;
import jakarta.mail.Message;
import jakarta.mail.MessagingException;
import jakarta.mail.PasswordAuthentication;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Date;
import java.util.Properties;

/**
 * Email over SMTP (Jakarta Mail, Eclipse Angus): a plain-text message per recipient, through the
 * policy's server, with STARTTLS and AUTH when configured. The password is read from a file, never
 * from the policy or a log line.
 */
public final class SmtpNotifier implements Notifier {
  private final MonitorPolicy.Smtp smtp;
  private final Session session;

  public SmtpNotifier(MonitorPolicy.Smtp smtp) {
    this.smtp = smtp;
    Properties p = new Properties();
    p.put("mail.smtp.host", smtp.host());
    p.put("mail.smtp.port", Integer.toString(smtp.portOrDefault()));
    String ms = Long.toString(smtp.timeoutDuration().toMillis());
    p.put("mail.smtp.connectiontimeout", ms);
    p.put("mail.smtp.timeout", ms);
    p.put("mail.smtp.writetimeout", ms);
    if (Boolean.TRUE.equals(smtp.starttls())) {
      p.put("mail.smtp.starttls.enable", "true");
      p.put("mail.smtp.starttls.required", "true");
    }
    Authenticator auth = null;
    if (smtp.username() != null) {
      p.put("mail.smtp.auth", "true");
      String password = readPassword(smtp.passwordFile());
      auth = new Authenticator() {
        @Override
        protected PasswordAuthentication getPasswordAuthentication() {
          return new PasswordAuthentication(smtp.username(), password);
        }
      };
    }
    this.session = Session.getInstance(p, auth);
  }

  private static String readPassword(String file) {
    if (file == null) return "";
    try {
      return Files.readString(Path.of(file), StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      throw new MonitorConfigException("cannot read smtp.password-file " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * Connects to the server, greets it and logs in (when configured), then hangs up: the monitor's
   * start refuses a policy whose SMTP server it cannot reach now rather than at the first incident.
   */
  public void verify() {
    try (Transport t = session.getTransport("smtp")) {
      t.connect();
    } catch (MessagingException e) {
      throw new MonitorConfigException("cannot reach the SMTP server " + smtp.host() + ":" + smtp.portOrDefault() + " ("
          + rootMessage(e) + "); check [smtp] in the monitor policy", e);
    }
  }

  @Override
  public void send(MonitorPolicy.Recipient to, Notice notice) throws IOException {
    try {
      MimeMessage m = new MimeMessage(session);
      m.setFrom(new InternetAddress(smtp.from()));
      m.setRecipient(Message.RecipientType.TO, new InternetAddress(to.email()));
      m.setSubject(notice.subject(), "UTF-8");
      m.setText(notice.text(), "UTF-8");
      m.setSentDate(Date.from(Instant.now()));
      Transport.send(m);
    } catch (MessagingException e) {
      throw new IOException("SMTP " + smtp.host() + ":" + smtp.portOrDefault() + " did not take the message to " + to.email() + ": "
          + rootMessage(e), e);
    }
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) t = t.getCause();
    String m = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
    return m.lines().findFirst().orElse(m);
  }
}
